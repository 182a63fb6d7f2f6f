"""The configured gates' model and batches in ordinary tests (no --memcheck needed)."""

import torch


def test_candidate_batches_are_one_class_each(memcheck_batches):
    batches = memcheck_batches("candidate")  # drawn exactly as the gate's check draws them
    assert batches.classes == list(range(10))  # one batch per digit
    assert (batches.y == torch.tensor(batches.classes)[:, None]).all()


def test_candidate_fits_the_batches_the_gate_checks(memcheck_model, memcheck_batches):
    model, batches = memcheck_model("candidate"), memcheck_batches("candidate")
    with torch.no_grad():
        predicted = model(batches.x).argmax(1).view_as(batches.y)
    assert (predicted == batches.y).float().mean() > 0.9  # it fits its (noisy) training labels
