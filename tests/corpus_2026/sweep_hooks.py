"""The functions the sweep files of this folder name in `scheduler` (W&B's 2026 schema).

Optuna is imported inside them: this file is read (parsed) when a sweep is validated and
imported only when one runs.
"""

from __future__ import annotations

from typing import Any


def build_study() -> Any:
    """The study: its sampler and pruner are the user's."""
    import optuna

    return optuna.create_study(
        directions=["minimize", "maximize"],
        sampler=optuna.samplers.TPESampler(seed=0),
    )


def build_single_study() -> Any:
    import optuna

    return optuna.create_study(direction="minimize", pruner=optuna.pruners.MedianPruner())


def space(trial: Any) -> dict[str, Any]:
    """A conditional space: `lr` exists only for adam."""
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd"])
    if optimizer == "adam":
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    return dict(trial.params)
