"""The validation study: train the zoo, calibrate the default verdicts leaving one family out, report.

    python examples/label_noise_study.py --quick --out study-quick          # minutes on 2 cores
    python examples/label_noise_study.py --full --workers 2 --out study-full  # hours: docs/validation.md
    memcheck study --full --workers 2 --out study-full                     # the same, installed
    memcheck plot study-full                                               # recalibrate and report from its records

Writes records-*.jsonl (every candidate check, per sample), weights/, summary.json,
report.md and PNG plots into --out, and prints the report.
"""

from __future__ import annotations

import argparse
import sys

from pytest_memcheck.study import cli

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_arguments(parser)
    sys.exit(cli.main(parser.parse_args()))
