"""``memcheck`` command line: ``memcheck check``, ``memcheck demo``, ``memcheck study``, ``memcheck plot``."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

from .config import CHECK_KEYS, THRESHOLD_KEYS, thread_count

#: Exit statuses of ``memcheck check``: those of the gate, and one for input it could not use.
PASSED, FAILED, USAGE = 0, 1, 2

#: ``memcheck check`` options that set the check itself (``--gate`` takes them from pyproject.toml) ...
#: ... except the run's seed and device, which override the configuration's as --memcheck-seed/-device do.
_RUN_SETTINGS = ("seed", "device")
_SETTINGS = (*CHECK_KEYS, *_RUN_SETTINGS)

CHECK_EPILOG = """\
examples:
  memcheck check weights/model.pt mypkg.data:train_set --architecture mypkg.models:build --plot curve.png
  memcheck check mypkg.models:load mypkg.data:train_set --min-auc 0.6 --json report.json
  memcheck check weights/new.pt mypkg.data:train_set --architecture mypkg.models:build \\
      --baseline tests/memcheck/model.json --max-drop 0.05
  memcheck check weights/accepted.pt mypkg.data:train_set --architecture mypkg.models:build \\
      --baseline tests/memcheck/model.json --update   # record the baseline
  memcheck check --gate candidate --seed 1   # a gate of [tool.memcheck.models] in ./pyproject.toml

exit status: 0 passed (or inconclusive with --inconclusive warn), 1 failed or inconclusive,
2 the model, data, options or configuration could not be used.
"""


def _output(text: str) -> int | str:
    """``--output``: an index of a tuple the forward returns (a whole number), else a key or attribute name."""
    try:
        return int(text)
    except ValueError:
        return text


def _add_check_arguments(cmd: argparse.ArgumentParser) -> None:
    what = cmd.add_argument_group("what to check")
    what.add_argument("model", nargs="?", metavar="MODEL", help="'package.module:callable' returning an nn.Module, or a weights file")
    what.add_argument("data", nargs="?", metavar="DATA", help="'package.module:callable' returning (x, y), a Dataset or a DataLoader")
    what.add_argument("--gate", metavar="NAME", help="check [tool.memcheck.models.NAME] of ./pyproject.toml instead")
    what.add_argument("--architecture", metavar="SPEC", help="'package.module:callable' building the model a weights file fits")
    what.add_argument("--trust-pickle", action="store_true", help="load a whole pickled module (runs code from the file)")
    how = cmd.add_argument_group("check settings (default: those of pytest_memcheck.check)")
    how.add_argument("--layers", nargs="+", metavar="LAYER", help="module names or globs to compress (default: last three ReLUs)")
    how.add_argument("--method", choices=("nmf", "pca", "random"))
    how.add_argument("--ks", nargs="+", type=float, metavar="K", help="the k grid (ranks; kept fractions for random)")
    how.add_argument("--samples-per-class", type=int, metavar="N")
    how.add_argument("--batches", choices=("single", "multi"))
    how.add_argument("--repeats", type=int, metavar="N")
    how.add_argument("--classes", nargs="+", type=int, metavar="C", help="the classes to check (default: all)")
    how.add_argument("--residual", action="store_true", default=None, help="forward A - UV instead of UV")
    how.add_argument("--iterations", type=int, metavar="N", help="NMF iterations")
    how.add_argument("--confidence", type=float, metavar="P", help="level of the intervals (default 0.95)")
    how.add_argument("--keys", nargs=2, metavar=("INPUT", "LABEL"), help="the input and label keys of dict items")
    how.add_argument("--output", type=_output, metavar="PART",
                     help="which part of the model's output holds the logits: an index or a key")
    how.add_argument("--seed", type=int)
    how.add_argument("--device", help="the device the model must be on (memcheck never moves it)")
    gate = cmd.add_argument_group("decision (default: the default thresholds of pytest_memcheck.Thresholds)")
    gate.add_argument("--min-score", type=float, metavar="X", help="floor of the score")
    gate.add_argument("--max-score-drop", type=float, metavar="X", help="largest accepted fall below --baseline's score")
    gate.add_argument("--min-auc", type=float, metavar="X", help="floor of the paper's AuC (replaces the defaults)")
    gate.add_argument("--max-drop", type=float, metavar="X", help="largest accepted fall below --baseline's AuC")
    gate.add_argument("--baseline", type=Path, metavar="PATH", help="a recorded baseline, tests/memcheck/<name>.json")
    gate.add_argument("--update", action="store_true",
                      help="record this check as the baseline (--baseline PATH, or the gate's) instead of comparing; "
                           "refused below the floor, at chance or underfit; the exit status is the verdict's")
    gate.add_argument("--inconclusive", choices=("fail", "warn"),
                      help="exit status of an inconclusive verdict (undecidable, underfit, too deep, ...; default: fail)")
    out = cmd.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="PATH", help="write the verdict and result as JSON (the --memcheck-report format)")
    out.add_argument("--plot", type=Path, metavar="PATH", help="draw the k-vs-accuracy curve as a PNG (needs matplotlib)")
    out.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memcheck", description="Detect memorizing ReLU classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    check_cmd = sub.add_parser(
        "check", help="check a saved model (or a configured gate) and print the gate's verdict",
        description="Check a model for memorization and decide as the pytest gate does.",
        epilog=CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_check_arguments(check_cmd)
    demo = sub.add_parser("demo", help="train a clean and a memorizing digits CNN and check both")
    demo.add_argument("--noise", type=float, default=0.8, help="fraction of randomized labels (default 0.8)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's)")
    from .study import cli as study

    study_cmd = sub.add_parser("study", help="the validation study: train the zoo, calibrate the verdicts, report")
    study.add_arguments(study_cmd)
    plot = sub.add_parser("plot", help="recalibrate and redo a study's report and PNGs from its records")
    plot.add_argument("folder", type=Path, help="a study's --out folder")
    args = parser.parse_args(argv)
    if args.command == "check":
        problem = _usage_problem(args)
        if problem:
            check_cmd.print_usage(sys.stderr)
            print(f"memcheck check: error: {problem}", file=sys.stderr)
            return USAGE

    import torch

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if args.command == "check":
        return check(args)
    if args.command == "demo":
        from .demo import run

        run(noise=args.noise, seed=args.seed)
    elif args.command == "study":
        return study.main(args)
    elif args.command == "plot":
        return study.write_report(args.folder)
    return 0


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options of ``memcheck check``, before anything is loaded."""
    if args.gate is not None:
        table_keys = [k for k in _SETTINGS if k not in _RUN_SETTINGS]
        table_keys += [*THRESHOLD_KEYS, "baseline", "inconclusive", "architecture"]
        given = [f"--{key.replace('_', '-')}" for key in table_keys if getattr(args, key) is not None]
        given += ["MODEL"] * (args.model is not None) + ["--trust-pickle"] * args.trust_pickle
        if given:
            return (f"--gate takes the model, data, settings and thresholds from [tool.memcheck.models.{args.gate}]; "
                    f"leave out {', '.join(given)} (or check MODEL DATA without --gate)")
    elif args.model is None or args.data is None:
        return "give MODEL and DATA ('package.module:callable' or a weights file, and 'package.module:callable'), or --gate NAME"
    if args.update and args.baseline is None and args.gate is None:
        return "--update records a baseline: give the file with --baseline PATH (e.g. tests/memcheck/model.json)"
    drops = [f"--{k.replace('_', '-')}" for k in ("max_drop", "max_score_drop") if getattr(args, k) is not None]
    if drops and args.baseline is None and args.gate is None:
        return f"{' and '.join(drops)} and --baseline go together: the fall is measured from the baseline's result"
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return "--plot needs matplotlib: pip install 'pytest-memcheck[plot]'"
    return _output_problem(args)


def _output_problem(args: argparse.Namespace) -> str | None:
    """An output path that would replace a file memcheck did not write, found before the check runs."""
    from .errors import MemcheckError
    from .plots import check_plot_path
    from .reporting import check_report_path

    if args.json is not None and args.plot is not None and args.json.resolve() == args.plot.resolve():
        return f"--json and --plot name the same file ({args.json}); give each its own"
    try:
        if args.json is not None:
            check_report_path(args.json, "--json")
        if args.plot is not None:
            check_plot_path(args.plot, "--plot")
    except MemcheckError as exc:
        return str(exc)
    return None


def check(args: argparse.Namespace) -> int:
    """Run ``memcheck check``: the gate's decision path, its table, its exit status."""
    from .errors import MemcheckError, MemcheckWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 (warnings' own signature)
        """The check's warnings in the command's words, not at a line of its launcher script; others as usual."""
        if issubclass(category, MemcheckWarning):
            print(f"memcheck check: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():  # restores showwarning after the check
        warnings.showwarning = show
        try:
            outcome, inconclusive = _decide(args, Path.cwd())
        except (MemcheckError, ValueError) as exc:  # bad input: named problem and fix, no traceback
            print(f"memcheck check: {exc}", file=sys.stderr)
            return USAGE
    return _report(outcome, inconclusive, args)


def _decide(args: argparse.Namespace, root: Path) -> tuple[Any, str]:
    """The outcome, and what an inconclusive one does to the exit status."""
    if args.gate is not None:
        from . import config
        from .gates import ConfiguredGates

        gates = ConfiguredGates(config.load(root), root, seed=args.seed, device=args.device)
        hint = f"memcheck check --gate {shlex.quote(args.gate)} --update"
        return gates.outcome(args.gate, update=args.update, update_hint=hint), gates.spec(args.gate).inconclusive
    from .assertions import gated
    from .baseline import BaselineStore
    from .gate import Thresholds
    from .loading import load_data, load_model

    thresholds = Thresholds.given(**{key: getattr(args, key) for key in THRESHOLD_KEYS})
    store, name = None, args.model
    if args.baseline is not None:
        store, name = BaselineStore(args.baseline.parent), args.baseline.stem
        if store.path(name) != args.baseline or args.baseline.suffix != ".json":
            raise ValueError(f"--baseline {str(args.baseline)!r} must be a file <name>.json, e.g. {str(store.path(name))!r}")
        if not args.update and not args.baseline.is_file():
            raise ValueError(
                f"--baseline {args.baseline} does not exist; record it from the model you accept: add --update"
            )
    model = load_model(
        args.model, root, architecture=args.architecture, trust_pickle=args.trust_pickle, device=args.device
    )
    data = load_data(args.data, root)
    settings = {key: getattr(args, key) for key in _SETTINGS if getattr(args, key) is not None}
    outcome = gated(
        model, data, name=name, thresholds=thresholds, store=store, update=args.update,
        update_hint="this memcheck check command with --update", **settings,
    )
    return outcome, args.inconclusive or "fail"


def _report(outcome: Any, inconclusive: str, args: argparse.Namespace) -> int:
    from . import reporting
    from .errors import MemcheckError
    from .gate import INCONCLUSIVE, PASS

    record = outcome.to_dict()
    sys.stdout.write(reporting.terminal_table([outcome], shutil.get_terminal_size().columns, sys.stdout.isatty()))
    print(outcome.explain())
    try:
        if args.json is not None:
            reporting.json_report([outcome], args.json, option="--json")
            print(f"wrote {args.json}")
        if args.plot is not None:
            from .plots import check_plot_path, gate_curve, recorded_baseline

            args.plot.parent.mkdir(parents=True, exist_ok=True)
            check_plot_path(args.plot, "--plot")  # again: the file may have appeared while the check ran
            gate_curve(record, args.plot, recorded_baseline(record))
            print(f"wrote {args.plot}")
    except MemcheckError as exc:
        print(f"memcheck check: {exc}", file=sys.stderr)
        return USAGE
    except OSError as exc:
        print(f"memcheck check: could not write {exc.filename or 'the output'}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE
    if outcome.status == PASS or (outcome.status == INCONCLUSIVE and inconclusive == "warn"):
        return PASSED
    return FAILED


if __name__ == "__main__":
    sys.exit(main())
