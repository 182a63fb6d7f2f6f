"""The example project's models and data: digits CNNs from pytest_memcheck.zoo."""
