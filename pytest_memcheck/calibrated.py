"""The default verdict's constants, each chosen by the validation study with one model family held out.

``memcheck study --full`` trains the zoo (docs/validation.md: 12 ReLU families
over four data sets, 566 measured models), and its calibration
(``study/calibrate.py``) chooses every number below on all families but one,
judges it on the one left out, and finally chooses it on all of them: these are
the final choices, rounded (``docs/data/validation-summary.json``, ``final``;
a test checks that the two agree). docs/validation.md shows the held-out
figures. Changing a number here without re-running the study breaks the link
between the docs and the product.
"""

from __future__ import annotations

#: The score's floor: a model whose score interval lies wholly below it fails as memorizing.
#: Chosen in the middle between the memorizing models' highest lower bound and the clean ones' lowest upper bound.
MIN_SCORE = 0.645
#: The largest accepted fall of the score below its baseline's, as a share of the baseline's score; both
#: read at the ranks above the class count (:meth:`pytest_memcheck.score.Mixed.regression_ranks`), where a
#: retrain with another seed leaves the score alone. Those ranks were chosen with the limit, one family held out.
MAX_SCORE_DROP = 0.052
#: A model that fits less than this fraction of its checked training samples is underfit: not judged.
MIN_FIT = 0.966
#: An interval wider than this (half-width) cannot tell a typical clean model from the floor: undecidable.
MAX_HALF_WIDTH = 0.173
#: Every zoo family has ten classes, and the score thresholds above judge only models checked on at
#: least this many: cut to two, three or five classes, zoo families were misjudged both ways (clean
#: ones failed, memorizing ones passed: docs/validation.md, "Other class counts"). A bound on where
#: the calibration was seen to hold, not itself calibrated.
CLASSES = 10
#: Every zoo network has at most seven activation layers on its main path, and the score
#: thresholds judge only models at most this deep: on deeper networks that the calibration never
#: saw (a torchvision ResNet-18, a 12-layer MLP) they passed memorizing models and missed a p = 0.2
#: regression (docs/validation.md, "Deeper networks and more classes"). A bound, not calibrated.
LAYERS = 7
#: The single-class AuC is saturated when it stays within this of the uncompressed accuracy while the
#: score does not show that the model generalizes (it then only affects explicit min_auc/max_drop gates).
SATURATION_TOL = 0.1
