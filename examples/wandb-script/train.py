"""A typical W&B Sweeps training script. It knows nothing about raysweep.

It reads its hyperparameters from ``wandb.config`` (defaults given to ``wandb.init``, sweep
values override them) and reports with ``wandb.log``, exactly as it would under ``wandb agent``.
Under ``raysweep run`` it imports raysweep's stand-in ``wandb``; run it alone with the real
``wandb`` package installed and it logs to W&B as usual.
"""

import warnings

import numpy as np
import wandb
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

defaults = {
    "learning_rate": 0.01,
    "alpha": 1e-4,
    "penalty": "l2",
    "epochs": 12,
    "seed": 0,
}


def train() -> None:
    run = wandb.init(project="raysweep-examples", config=defaults)
    config = wandb.config
    wandb.define_metric("val_acc", summary="max")

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    model = SGDClassifier(
        loss="log_loss",
        learning_rate="constant",
        eta0=config.learning_rate,
        alpha=config["alpha"],
        penalty=config.penalty,
        random_state=config.seed,
    )
    classes = np.unique(y)
    best_acc = 0.0
    for epoch in range(1, config.epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(x_train, y_train, classes=classes)
        proba = np.clip(model.predict_proba(x_val), 1e-7, 1.0)
        val_loss = log_loss(y_val, proba, labels=classes)
        val_acc = accuracy_score(y_val, model.predict(x_val))
        best_acc = max(best_acc, val_acc)
        wandb.log({"val_loss": val_loss, "val_acc": val_acc, "epoch": epoch})

    run.summary["best_val_acc"] = best_acc
    wandb.finish()


if __name__ == "__main__":
    train()
