"""Notebook-style use of raysweep: a Python function as the trial, pandas tables back.

Run it as a script (``python examples/python-api/run_sweep.py``) or paste the cells into a
notebook. Ray starts in this process for the sweep and stops after it (or reuses a Ray you
started with ``ray.init``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import raysweep

HERE = Path(__file__).resolve().parent


def train(config: dict) -> None:
    """One trial: ``config`` holds this trial's parameters; each ``raysweep.log`` is a step."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, stratify=y,
                                                      random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=config["lr"],
                          alpha=config["alpha"], penalty=config["penalty"], random_state=0)
    classes = np.unique(y)
    for epoch in range(10):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(x_train, y_train, classes=classes)
        proba = np.clip(model.predict_proba(x_val), 1e-7, 1.0)
        raysweep.log({"val_loss": log_loss(y_val, proba, labels=classes), "epoch": epoch})


if __name__ == "__main__":
    result = raysweep.run(HERE / "sweep.yaml", function=train, num_cpus=2)
    print(result.trials[["trial_id", "status", "lr", "alpha", "penalty", "val_loss_best"]])
    print("best:", result.best)
    print("history rows:", len(result.history), "in", result.path)
