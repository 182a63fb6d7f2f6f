"""Training data of the two models: scikit-learn's digits, clean or with 60% random labels.

The check must see each model's *own* training labels: those it was fit to.
"""

from pytest_memcheck import zoo

NOISE = 0.6


def clean_train():
    return zoo.digits(0.0, seed=0).train


def noisy_train():
    return zoo.digits(NOISE, seed=1).train
