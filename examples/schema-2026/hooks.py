"""The functions `optuna_define_by_run.yaml` names under `scheduler:` (W&B's 2026 schema).

raysweep imports this file in the sweep's driver, not in the trials: `optimizer()` builds the
study once, and `search_space(trial)` runs once per trial to choose its config.
"""

from __future__ import annotations

from typing import Any

import optuna


def optimizer() -> optuna.Study:
    """The study: its sampler and pruner are used; raysweep keeps the study in its own file."""
    return optuna.create_study(
        direction="minimize",  # must match the sweep's metric goal
        # constant_liar: trials running side by side are not proposed the same point.
        sampler=optuna.samplers.TPESampler(seed=0, constant_liar=True),
        # Prune a trial whose val_loss at a step is worse than the median of earlier trials
        # at that step, once 4 trials have finished, and not before its 3rd report.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=3),
    )


def search_space(trial: optuna.Trial) -> dict[str, Any]:
    """A conditional space: momentum exists for SGD only, beta1 for Adam only."""
    name = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    trial.suggest_float("lr", 1e-3, 0.3, log=True)
    if name == "sgd":
        trial.suggest_float("momentum", 0.0, 0.9)
    else:
        trial.suggest_float("beta1", 0.5, 0.99)
    # The run's config; returning None means the same (trial.params).
    return dict(trial.params)
