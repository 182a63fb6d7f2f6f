"""Shared fixtures: the tiny models are trained once per test session.

Threads are set on purpose: under pytest-xdist each worker gets one torch
thread so that two workers do not fight over two cores.
"""

from __future__ import annotations

import os

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


@pytest.fixture(scope="session")
def clean_cnn() -> tuple[torch.nn.Module, zoo.Split]:
    """A digits CNN fitted to clean labels (~99% test accuracy)."""
    return zoo.trained("digits_cnn", 0.0, seed=0)


@pytest.fixture(scope="session")
def memorizing_cnn() -> tuple[torch.nn.Module, zoo.Split]:
    """A digits CNN fitted to 100% training accuracy on fully random labels."""
    return zoo.trained("digits_cnn", 1.0, seed=0)


@pytest.fixture
def tiny_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs for untrained models: 4 classes x 12 samples of 1x8x8."""
    g = torch.Generator().manual_seed(0)
    return torch.rand(48, 1, 8, 8, generator=g), torch.arange(48) % 4
