"""The label-noise validation study: train a zoo at label noise p, check every model, correlate.

    python examples/label_noise_study.py --quick --out study-quick   # minutes on 2 cores
    python examples/label_noise_study.py --full --out study-full     # 54 models
    memcheck study --full --out study-full                           # the same, installed
    memcheck plot study-full                                         # redraw/re-report from records

Prints the tables (AuC per family and p, correlations, per-class, layer by layer,
score candidates) and writes records.json(l), summary.json, models.csv,
report.md and PNG plots into --out.
"""

from __future__ import annotations

import argparse
import sys

from pytest_memcheck import study

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    study.add_arguments(parser)
    sys.exit(study.main(parser.parse_args()))
