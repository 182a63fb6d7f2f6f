"""Model factories, as a real project would have them."""

from pathlib import Path

import torch

from pytest_memcheck import zoo

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def build():
    return zoo.digits_cnn()


def load_candidate():
    model = build()
    model.load_state_dict(torch.load(WEIGHTS / "candidate.pt", weights_only=True))
    return model.eval()
