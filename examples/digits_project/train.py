"""Re-create the example's weights (not needed to run the gate: they are committed).

    python train.py && pytest --memcheck --memcheck-update
"""

import torch

from digits_models.data import NOISE
from digits_models.models import WEIGHTS
from pytest_memcheck import zoo

if __name__ == "__main__":
    torch.set_num_threads(2)
    for name, p, seed in (("accepted", 0.0, 0), ("candidate", NOISE, 1)):
        model, data = zoo.trained("digits_cnn", p, seed=seed)
        torch.save(model.state_dict(), WEIGHTS / f"{name}.pt")
        print(f"{name}: train accuracy {zoo.accuracy(model, data.x, data.y):.3f}, "
              f"test accuracy {zoo.accuracy(model, data.x_test, data.y_test):.3f}")
