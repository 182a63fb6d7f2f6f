"""pytest plugin (entry point ``pytest11``): options, the ``memcheck`` fixture, thin hooks.

All state lives in one :class:`~pytest_memcheck.session.MemcheckSession`; every
hook only forwards to it. Nothing here imports torch, so a run without
``--memcheck`` pays nothing for the plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

from .config import thread_count
from .errors import MemcheckError
from .escape import log_text
from .session import OUTCOMES_KEY, SESSION_KEY, MemcheckSession, carry

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .batches import Batches
    from .gates import ConfiguredGates


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memcheck", "memorization checks of PyTorch classifiers")
    group.addoption(
        "--memcheck", action="store_true", default=False,
        help="run memorization checks: tests marked memcheck, the memcheck fixture, and the gates in [tool.memcheck]",
    )
    group.addoption(
        "--memcheck-update", action="store_true", default=False,
        help="record the results as the new baselines (written atomically) instead of comparing with them",
    )
    group.addoption("--memcheck-seed", type=int, default=None, metavar="N", help="seed of every check (default: config or 0)")
    group.addoption("--memcheck-device", default=None, metavar="DEVICE", help="device the models must be on (default: their own)")
    group.addoption(
        "--memcheck-threads", type=thread_count, default=None, metavar="N",
        help="torch CPU threads for every test of a --memcheck run (torch.set_num_threads; default: torch's); "
        "with pytest-xdist, use cores / workers: two workers of 2 threads on 2 cores slow each other badly",
    )
    group.addoption(
        "--memcheck-report", default=None, metavar="PATH",
        help="write every gate's outcome to a JSON file, on every run (never over a file that is not a memcheck report)",
    )
    group.addoption(
        "--memcheck-plots", default=None, metavar="DIR",
        help="write each gate's k-vs-accuracy curve as DIR/<name>.png (needs matplotlib: pytest-memcheck[plot])",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "memcheck: a memorization check; runs only with pytest --memcheck")
    enabled = config.getoption("memcheck") or config.getoption("memcheck_update")
    from . import config as memcheck_config

    report = config.getoption("memcheck_report")
    report_path = Path(report) if report else None
    is_worker = hasattr(config, "workerinput")
    try:
        if enabled and report_path is not None and not is_worker:
            from .reporting import check_report_path

            check_report_path(report_path)  # before any test runs, not after
        cfg = memcheck_config.load(config.rootpath) if enabled else memcheck_config.MemcheckConfig(None, config.rootpath)
    except MemcheckError as exc:
        if enabled and not is_worker and isinstance(exc, memcheck_config.ConfigError):
            from .session import publish

            publish([], report_path, error=f"configuration error: {exc}")  # the run's reports say why it stopped
        raise pytest.UsageError(log_text(f"memcheck: {exc}")) from exc  # it may quote a name from the file
    if config.getoption("memcheck_plots"):
        try:
            import matplotlib  # noqa: F401  (said now, not after the checks ran)
        except ImportError as exc:
            raise pytest.UsageError("memcheck: --memcheck-plots needs matplotlib: pip install 'pytest-memcheck[plot]'") from exc
    seed = config.getoption("memcheck_seed")
    device = config.getoption("memcheck_device") or cfg.device
    if enabled and device:
        from .engine import parse_device

        try:
            parse_device(device)  # said now, not once per gate after the models loaded
        except MemcheckError as exc:
            raise pytest.UsageError(log_text(f"memcheck: {exc}")) from exc
    threads = config.getoption("memcheck_threads")
    if enabled and threads is not None:
        import torch  # only with --memcheck: a plain run does not import torch

        config.add_cleanup(lambda previous=torch.get_num_threads(): torch.set_num_threads(previous))
        torch.set_num_threads(threads)
    config.stash[SESSION_KEY] = state = MemcheckSession(
        enabled=enabled,
        update=config.getoption("memcheck_update"),
        seed=cfg.seed if seed is None else seed,
        device=device,
        report_path=report_path,
        plots=Path(config.getoption("memcheck_plots")) if config.getoption("memcheck_plots") else None,
        config=cfg,
        is_worker=is_worker,
    )
    # The session object receives the test reports itself (pytest_runtest_logreport).
    config.pluginmanager.register(state, "memcheck-session")
    if enabled and cfg.models and cfg.path is not None and not _collected_by_args(config, cfg.path):
        # Whatever paths are given, the configured gates run (-k and -m still select among them); as a
        # collection argument they are counted like any test.
        config.args.append(str(cfg.path))


def _collected_by_args(config: pytest.Config, pyproject: Path) -> bool:
    """Whether an argument already names ``pyproject.toml`` (or one of its gates) or a folder holding it."""
    target = pyproject.resolve()
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::", 1)[0]).resolve()
        if path == target or path in target.parents:
            return True
    return False


def _state(config: pytest.Config) -> MemcheckSession:
    return config.stash[SESSION_KEY]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """``pyproject.toml`` holds the configured gates."""
    state = _state(parent.config)
    if state.enabled and state.config.path is not None and file_path == state.config.path:
        from .items import MemcheckFile

        return MemcheckFile.from_parent(parent, path=file_path)
    return None


# Runs after the users' conftest hooks (a marker they add counts) and before pytest's own -m selection.
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests that use the ``memcheck`` fixture; skip memcheck tests without ``--memcheck``, with the reason."""
    for item in items:
        if "memcheck" in getattr(item, "fixturenames", ()) and item.get_closest_marker("memcheck") is None:
            item.add_marker(pytest.mark.memcheck)
    if _state(config).enabled:
        return
    skip = pytest.mark.skip(reason="memorization check: run with pytest --memcheck")
    for item in items:
        if item.get_closest_marker("memcheck") is not None:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if call.when == "call":
        recorded = item.stash.get(OUTCOMES_KEY, None)
        if recorded:
            item.stash[OUTCOMES_KEY] = []  # each report carries its own outcomes, once (subtests, reruns)
            carry(item, outcome.get_result(), recorded)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _state(session.config).finish(session)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    _state(config).terminal_summary(terminalreporter)


@pytest.fixture
def memcheck(request: pytest.FixtureRequest):
    """Memorization checks and assertions with the session's seed, device and baselines."""
    from .fixture import MemcheckFixture

    return MemcheckFixture(_state(request.config), request.node)


@pytest.fixture(scope="session")
def _memcheck_gates(pytestconfig: pytest.Config) -> ConfiguredGates:
    """The configured gates, read on first use, with the run's seed and device; shared by the fixtures below."""
    from . import config as memcheck_config
    from .gates import ConfiguredGates

    state = _state(pytestconfig)
    try:
        cfg = state.config if state.enabled else memcheck_config.load(pytestconfig.rootpath)
    except MemcheckError as exc:  # the user's pyproject.toml, not this plugin, is what to look at
        pytest.fail(f"memcheck configuration error: {exc}", pytrace=False)
    seed, device = pytestconfig.getoption("memcheck_seed"), pytestconfig.getoption("memcheck_device")
    return ConfiguredGates(cfg, pytestconfig.rootpath, seed=seed, device=device)


@pytest.fixture(scope="session")
def memcheck_model(_memcheck_gates: ConfiguredGates) -> Callable[[str], nn.Module]:
    """Load the model of a gate configured in ``[tool.memcheck.models.<name>]``, by name.

    Loaded on first use and kept for the session (every test gets the same
    object: deep-copy it before training or changing it). Works with and
    without ``--memcheck``; an unknown name fails with the configured names.

    Example::

        def test_candidate_is_small(memcheck_model):
            model = memcheck_model("candidate")
            assert sum(p.numel() for p in model.parameters()) < 1_000_000
    """
    return _memcheck_gates.model


@pytest.fixture(scope="session")
def memcheck_batches(_memcheck_gates: ConfiguredGates) -> Callable[..., Batches]:
    """The class-sorted batches a configured gate's check draws, by gate name.

    ``memcheck_batches(name, repeat=0)`` draws with the check's own code and
    the gate's settings and seed (``--memcheck-seed`` included): ``.classes``
    (one class per batch), ``.x`` (inputs, batch after batch), ``.y`` (labels,
    ``(batches, samples)``), ``.index`` (each sample's position in the data).
    Drawn on first use, kept for the session; works without ``--memcheck``.

    Example::

        def test_gate_sees_every_digit(memcheck_batches):
            batches = memcheck_batches("candidate")
            assert batches.classes == list(range(10))
            assert (batches.y == torch.tensor(batches.classes)[:, None]).all()
    """
    return _memcheck_gates.batches
