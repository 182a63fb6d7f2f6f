"""The validation study: a wide zoo of trained models, and the rules calibrated on it.

Modules, in the order the study runs:

* ``datasets``, ``architectures``, ``families`` - what a model is trained on and what it is;
* ``regimes``   - which runs the zoo trains (label noise, size, regularization, checkpoints, seeds);
* ``measure``   - every candidate check of one model, per sample and per k;
* ``records``   - the JSON-lines records of measured models;
* ``run``       - train and measure the runs (resumable, several worker processes);
* ``calibrate`` - choose the score, floor, regression limit and validity guards leaving one family out;
* ``report``, ``plots`` - the tables and figures of docs/validation.md;
* ``cli``       - ``memcheck study``.
"""
