"""Ordinary tests of the example project, plus one written with the memcheck fixture."""

import pytest

from digits_models.data import clean_train
from digits_models.models import build, load_candidate
from pytest_memcheck import zoo


def test_candidate_fits_its_training_data():
    from digits_models.data import noisy_train

    x, y = noisy_train()
    assert zoo.accuracy(load_candidate(), x, y) > 0.99


@pytest.mark.memcheck
def test_accepted_model_is_not_memorizing(memcheck):
    import torch

    from digits_models.models import WEIGHTS

    model = build()
    model.load_state_dict(torch.load(WEIGHTS / "accepted.pt", weights_only=True))
    result = memcheck.assert_not_memorizing(model, clean_train())  # the default floor on the score
    assert result.per_class  # one AuC per digit
