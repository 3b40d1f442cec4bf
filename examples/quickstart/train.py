"""Quickstart: train a small classifier on scikit-learn's bundled digits data.

A plain argparse program, as W&B sweeps run them: raysweep passes the sweep's parameters as
``--name=value`` arguments (the ``${args}`` macro) and the program reports one step per epoch
with ``raysweep.log``. Run it alone too: ``python train.py --lr=0.01``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import raysweep


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--penalty", default="l2", choices=["l2", "l1", "elasticnet"])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    model = SGDClassifier(
        loss="log_loss",
        learning_rate="constant",
        eta0=args.lr,
        alpha=args.alpha,
        penalty=args.penalty,
        random_state=args.seed,
    )
    classes = np.unique(y)
    for epoch in range(1, args.epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(x_train, y_train, classes=classes)
        # A diverging model (a large lr) can give a class probability 0, whose log is -inf:
        # keep every probability above a floor, and the rows summing to one.
        proba = np.clip(model.predict_proba(x_val), 1e-7, 1.0)
        proba /= proba.sum(axis=1, keepdims=True)
        val_loss = log_loss(y_val, proba, labels=classes)
        val_acc = accuracy_score(y_val, model.predict(x_val))
        raysweep.log({"val_loss": val_loss, "val_acc": val_acc, "epoch": epoch})
        print(f"epoch {epoch}: val_loss={val_loss:.4f} val_acc={val_acc:.4f}")


if __name__ == "__main__":
    main()
