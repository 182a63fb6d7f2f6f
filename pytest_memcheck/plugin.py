"""pytest plugin: options and the skip of memcheck tests when ``--memcheck`` is off."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memcheck", "memorization checks of PyTorch classifiers")
    group.addoption("--memcheck", action="store_true", default=False, help="run memorization checks and gates")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "memcheck: a memorization check; runs only with --memcheck")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("memcheck"):
        return
    skip = pytest.mark.skip(reason="memorization check: run with pytest --memcheck")
    for item in items:
        if item.get_closest_marker("memcheck") is not None:
            item.add_marker(skip)
