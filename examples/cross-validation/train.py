"""k-fold cross-validation with W&B Sweeps, as W&B documents it: one sweep run per
configuration trains k folds and logs the mean (the sweep's metric) and the spread.

Plain ``wandb`` API only; raysweep runs it unchanged with its stand-in ``wandb``.
Data: scikit-learn's bundled digits (no download). A trial takes about a second.
"""

import numpy as np
import wandb
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

defaults = {"C": 1.0, "gamma": 0.001, "kernel": "rbf", "folds": 5, "seed": 0}


def main() -> None:
    with wandb.init(project="raysweep-cross-validation", config=defaults) as run:
        config = run.config
        x, y = load_digits(return_X_y=True)
        folds = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
        scores = []
        for fold, (train_idx, val_idx) in enumerate(folds.split(x, y)):
            model = make_pipeline(
                StandardScaler(), SVC(C=config.C, gamma=config.gamma, kernel=config.kernel)
            )
            model.fit(x[train_idx], y[train_idx])
            accuracy = model.score(x[val_idx], y[val_idx])
            scores.append(accuracy)
            # One row per fold; the sweep's metric is only in the final row.
            wandb.log({"fold": fold, "fold_val_accuracy": accuracy})

        wandb.log(
            {
                "val_accuracy": float(np.mean(scores)),
                "val_accuracy_std": float(np.std(scores)),
                "val_accuracy_min": float(np.min(scores)),
            }
        )
        run.summary["folds"] = len(scores)


if __name__ == "__main__":
    main()
