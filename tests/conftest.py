"""Shared fixtures: the tiny models are trained once per test session.

Threads are set on purpose: under pytest-xdist each worker gets one torch
thread so that two workers do not fight over two cores.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import torch

from pytest_memcheck import zoo

torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else int(os.environ.get("MEMCHECK_TEST_THREADS", "2")))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the long studies marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long study: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def trained(arch: str, p: float, seed: int = 0) -> tuple[torch.nn.Module, zoo.Split]:
    """``zoo.trained`` on one thread: the same model in a single-process run as under pytest-xdist.

    Training's float sums depend on the thread count, and some tests rely on
    borderline properties of these models (the random-label MLP's AuC sits near
    the saturation bound), so every run mode trains the very same weights.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return zoo.trained(arch, p, seed=seed)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def clean_cnn() -> tuple[torch.nn.Module, zoo.Split]:
    """A digits CNN fitted to clean labels (~99% test accuracy)."""
    return trained("digits_cnn", 0.0, seed=0)


@pytest.fixture(scope="session")
def memorizing_cnn() -> tuple[torch.nn.Module, zoo.Split]:
    """A digits CNN fitted to 100% training accuracy on fully random labels."""
    return trained("digits_cnn", 1.0, seed=0)


#: What a committed symlink may point to instead of a file: endless devices, a FIFO, a folder.
NOT_FILES = ["/dev/zero", "/dev/urandom", "fifo", "folder"]


def link_to_not_a_file(link: Path, kind: str) -> None:
    """Make ``link`` a symlink to one of :data:`NOT_FILES` (a FIFO or folder is made next to it)."""
    target = Path(kind) if kind.startswith("/") else link.parent / f"target-{kind}"
    if kind == "fifo":
        os.mkfifo(target)  # opening it for reading would wait for a writer forever
    elif kind == "folder":
        target.mkdir()
    link.symlink_to(target)


@pytest.fixture
def never_opened(monkeypatch):
    """``never_opened(path)``: opening ``path`` (or what it links to) fails the test at once.

    A FIFO would block its reader and ``/dev/zero`` never ends: a file that must be
    refused before it is opened is guarded here, so a regression fails instead of
    hanging the suite, with no clock involved.
    """
    import builtins

    guarded: set[str] = set()

    def guard(real):
        def opener(file, *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(file) in guarded:
                raise AssertionError(f"{os.fsdecode(file)} was opened; it must be refused before it is opened")
            return real(file, *args, **kwargs)
        return opener

    monkeypatch.setattr(os, "open", guard(os.open))
    monkeypatch.setattr(builtins, "open", guard(builtins.open))
    monkeypatch.setattr(io, "open", guard(io.open))
    return lambda path: guarded.add(os.path.realpath(path))


@pytest.fixture(scope="session")
def memorizing_mlp() -> tuple[torch.nn.Module, zoo.Split]:
    """A digits MLP fitted to fully random labels: its single-class AuC stays near 1 (saturated)."""
    return trained("digits_mlp", 1.0, seed=0)


@pytest.fixture
def tiny_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs for untrained models: 4 classes x 12 samples of 1x8x8."""
    g = torch.Generator().manual_seed(0)
    return torch.rand(48, 1, 8, 8, generator=g), torch.arange(48) % 4


@pytest.fixture(scope="session")
def saved_weights(tmp_path_factory, clean_cnn, memorizing_cnn):
    """State dicts of the two session models, saved once for pytester projects."""
    folder = tmp_path_factory.mktemp("weights")
    for name, (model, _) in (("clean", clean_cnn), ("memorizing", memorizing_cnn)):
        torch.save(model.state_dict(), folder / f"{name}.pt")
    return folder


GATED_DATA = '''
from pytest_memcheck import zoo

def clean():
    return zoo.digits(0.0, seed=0).train

def memorizing():
    return zoo.digits(1.0, seed=0).train
'''

#: Small, fast check settings for plugin tests (clean AuC ~0.64, memorizing ~0.13).
FAST = 'samples_per_class = 20\nks = [1, 2, 4, 8]\n'


class GatedProject:
    """A pytester project with the session's models and data, configured per test."""

    def __init__(self, pytester: pytest.Pytester, weights) -> None:
        self.pytester = pytester
        self.path = pytester.path
        import shutil

        for f in weights.iterdir():
            shutil.copy(f, pytester.path / f.name)
        pytester.makepyfile(mydata=GATED_DATA)

    def model_table(self, name: str, weights: str | None = None, data: str | None = None, extra: str = "min_auc = 0.4\n") -> str:
        """A model table; ``weights`` ("clean"/"memorizing") defaults to ``name``, ``data`` to ``weights``."""
        weights = weights or name
        return (
            f'[tool.memcheck.models.{name}]\nmodel = "{weights}.pt"\n'
            f'architecture = "pytest_memcheck.zoo:digits_cnn"\ndata = "mydata:{data or weights}"\n{FAST}{extra}\n'
        )

    def configure(self, *tables: str, top: str = "") -> None:
        self.pytester.makefile(".toml", pyproject=f"[tool.memcheck]\n{top}\n" + "\n".join(tables))

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest("-p", "no:cacheprovider", *args)


@pytest.fixture
def project(pytester: pytest.Pytester, saved_weights) -> GatedProject:
    return GatedProject(pytester, saved_weights)
