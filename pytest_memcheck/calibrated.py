"""The default verdict's constants, each chosen by the validation study with one model family held out.

``memcheck study --full`` trains the zoo (docs/validation.md), and its
calibration (``study/calibrate.py``) chooses every number below on all
families but one, judges it on the one left out, and finally chooses it on all
of them: these are the final choices. docs/validation.md shows the held-out
figures. Changing a number here without re-running the study breaks the link
between the docs and the product.
"""

from __future__ import annotations

#: The score's floor: a model whose score interval lies wholly below it fails as memorizing.
MIN_SCORE = 0.30
#: The largest accepted fall of the score below its baseline's (absolute score units).
MAX_SCORE_DROP = 0.05
#: A model that fits less than this fraction of its checked training samples is underfit: not judged.
MIN_FIT = 0.9
#: The single-class AuC is saturated when it stays within this of the uncompressed accuracy
#: while the score does not confirm that the model generalizes.
SATURATION_TOL = 0.1
#: An interval wider than this (half-width) cannot tell a typical clean model from the floor.
MAX_HALF_WIDTH = 0.15
