"""W&B's framework integrations under raysweep's stand-in: they log what W&B's log.

The frameworks the test extra installs (XGBoost, LightGBM, Keras with JAX, scikit-learn) are
trained for a few rounds on tiny data, in this process with the stand-in imported as
``wandb`` and a collecting reporter; one Ray test runs a sweep whose only logging is the
frameworks' callbacks. PyTorch Lightning and Hugging Face need torch, which CI does not
install: their distribution check and the members of the stand-in they use are tested here.
"""

from __future__ import annotations

import copy
import os
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import raysweep
from raysweep.errors import RaysweepWarning
from raysweep.program.metrics import set_function_reporter
from raysweep.program.once import reset_warnings
from raysweep.program.wandb_agent import write_param_file
from raysweep.program.wandb_package import SHIM_DIR

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras 3 with the light backend the tests use


@pytest.fixture
def trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A sweep trial's environment (``lr`` from the sweep) and what raysweep receives."""
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    monkeypatch.chdir(tmp_path)
    for key, value in {"WANDB_SWEEP_ID": "sweep-1", "WANDB_RUN_ID": "t1",
                       "RAYSWEEP_TRIAL_DIR": str(trial_dir), "RAYSWEEP_WANDB": "shim",
                       "WANDB_SWEEP_PARAM_PATH":
                           str(write_param_file(trial_dir, "t1", {"lr": 0.3}))}.items():
        monkeypatch.setenv(key, value)
    reports: list[dict[str, Any]] = []
    previous = set_function_reporter(reports.append)
    reset_warnings()
    try:
        yield {"dir": trial_dir, "reports": reports}
    finally:
        set_function_reporter(previous)
        reset_warnings()



def _data(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((n, 3))
    return x, x @ np.array([1.0, 2.0, 3.0]) + 0.1 * rng.random(n)


def _rows(reports: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [r for r in reports if key in r]


# --- XGBoost ---------------------------------------------------------------------------------


def test_xgboost_callback_logs_each_round_as_wandb_names_it(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    import xgboost as xgb
    from wandb.integration.xgboost import WandbCallback
    from xgboost.callback import TrainingCallback

    run = wandb.init()
    callback = WandbCallback()
    assert isinstance(callback, TrainingCallback)
    x, y = _data()
    model = xgb.XGBRegressor(n_estimators=4, max_depth=2, early_stopping_rounds=10,
                             callbacks=[callback])
    model.fit(x[:30], y[:30], eval_set=[(x[:30], y[:30]), (x[30:], y[30:])], verbose=False)
    wandb.finish()

    rounds = _rows(trial["reports"], "epoch")
    assert [r["epoch"] for r in rounds] == [0, 1, 2, 3]
    assert [r["_step"] for r in rounds] == [0, 1, 2, 3]
    assert all({"validation_0-rmse", "validation_1-rmse"} <= set(r) for r in rounds)
    rmse = [r["validation_1-rmse"] for r in rounds]
    assert rmse == pytest.approx(model.evals_result()["validation_1"]["rmse"])
    best = trial["reports"][-1]
    assert best["best_iteration"] == model.best_iteration == int(np.argmin(rmse))
    assert best["best_score"] == pytest.approx(min(rmse))
    assert run.summary["validation_1-rmse"] == {"min": pytest.approx(min(rmse))}
    assert run.config["learner"]["objective"]["name"] == "reg:squarederror"
    assert run.config["lr"] == 0.3


def test_xgboost_old_style_callback_and_its_errors(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    import xgboost as xgb
    from wandb.integration.xgboost import WandbCallback, wandb_callback

    with pytest.raises(wandb.Error, match=r"wandb.init\(\) before WandbCallback"):
        WandbCallback()
    wandb.init()
    with pytest.warns(RaysweepWarning, match="wandb_callback will be deprecated"):
        legacy = wandb_callback()
    x, y = _data()
    xgb.train({"max_depth": 2}, xgb.DMatrix(x, y), num_boost_round=3,
              evals=[(xgb.DMatrix(x, y), "train")], callbacks=[legacy])
    assert [sorted(r) for r in trial["reports"]] == [["_step", "train-rmse"]] * 3


# --- LightGBM --------------------------------------------------------------------------------


def test_lightgbm_callback_and_log_summary(wandb: ModuleType, trial: dict[str, Any]) -> None:
    import lightgbm as lgb
    from wandb.lightgbm import log_summary, wandb_callback  # W&B's older module name

    run = wandb.init()
    x, y = _data()
    train = lgb.Dataset(x[:30], y[:30])
    valid = lgb.Dataset(x[30:], y[30:], reference=train)
    booster = lgb.train({"objective": "regression", "metric": ["l2", "l1"], "verbose": -1,
                         "learning_rate": 0.3, "min_data_in_leaf": 2},
                        train, num_boost_round=3, valid_sets=[train, valid],
                        valid_names=["training", "valid"], callbacks=[wandb_callback()])
    log_summary(booster)
    with pytest.raises(wandb.Error, match="lightgbm.basic.Booster"):
        log_summary(object())  # type: ignore[arg-type]
    wandb.finish()

    rounds = _rows(trial["reports"], "iteration")
    assert [r["iteration"] for r in rounds] == [0, 1, 2]
    assert all({"training_l2", "training_l1", "valid_l2", "valid_l1"} <= set(r) for r in rounds)
    assert rounds[-1]["valid_l2"] == pytest.approx(booster.best_score["valid"]["l2"])
    assert run.summary["valid_l2"] == {"min": pytest.approx(min(r["valid_l2"] for r in rounds))}
    # log_summary's values were never logged: raysweep records them when the run ends.
    assert trial["reports"][-1]["best_iteration"] == booster.best_iteration
    assert trial["reports"][-1]["best_score/valid/l2"] == pytest.approx(rounds[-1]["valid_l2"])
    assert run.config["objective"] == "regression"  # the training parameters


# --- Keras (3, with JAX) ---------------------------------------------------------------------


def _keras_model() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse",
                  metrics=["mae"])
    return model


def test_keras_metrics_logger_logs_epochs_and_batches(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    import keras
    from wandb.integration.keras import WandbMetricsLogger

    wandb.init()
    logger = WandbMetricsLogger(log_freq=2)
    assert isinstance(logger, keras.callbacks.Callback)
    x, y = _data()
    history = _keras_model().fit(x, y, epochs=2, batch_size=8, validation_split=0.25,
                                 verbose=0, callbacks=[logger])

    epochs = _rows(trial["reports"], "epoch/epoch")
    assert [r["epoch/epoch"] for r in epochs] == [0, 1]
    assert [r["epoch/val_loss"] for r in epochs] == pytest.approx(history.history["val_loss"])
    assert {"epoch/loss", "epoch/mae", "epoch/val_mae"} <= set(epochs[0])
    assert epochs[0]["epoch/learning_rate"] == pytest.approx(0.05)
    batches = _rows(trial["reports"], "batch/batch_step")
    # 30 training rows in batches of 8: batches 0 and 2 of each epoch.
    assert [r["batch/batch_step"] for r in batches] == [0, 2, 4, 6]
    assert {"batch/loss", "batch/learning_rate"} <= set(batches[0])


def test_keras_legacy_callback_logs_epochs_and_keeps_the_best(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    from wandb.integration.keras import WandbCallback, WandbModelCheckpoint

    run = wandb.init()
    x, y = _data()
    checkpoint = WandbModelCheckpoint(str(trial["dir"] / "model.keras"))
    history = _keras_model().fit(x, y, epochs=3, verbose=0, validation_split=0.25,
                                 callbacks=[WandbCallback(monitor="val_loss"), checkpoint])
    wandb.finish()

    rows = _rows(trial["reports"], "epoch")
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert [r["val_loss"] for r in rows] == pytest.approx(history.history["val_loss"])
    best = min(history.history["val_loss"])
    assert run.summary["best_val_loss"] == pytest.approx(best)
    assert run.summary["best_epoch"] == history.history["val_loss"].index(best)
    assert trial["reports"][-1]["best_val_loss"] == pytest.approx(best)  # reported at the end
    assert (trial["dir"] / "model.keras").is_file()  # Keras's ModelCheckpoint saved it


# --- scikit-learn ----------------------------------------------------------------------------


def test_sklearn_plots_are_accepted_and_warn_once(wandb: ModuleType) -> None:
    from sklearn.linear_model import LinearRegression

    wandb.init()
    x, y = _data()
    model = LinearRegression().fit(x, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert wandb.sklearn.plot_regressor(model, x, x, y, y, "linear") is None
        import wandb.sklearn as wandb_sklearn
        from wandb.integration.sklearn import plot_roc

        plot_roc(y, np.zeros((len(y), 2)), labels=None)
        wandb_sklearn.plot_confusion_matrix(y_true=[0, 1], y_pred=[1, 1])
    assert [str(w.message).split("(", 1)[0] for w in caught] == ["wandb.sklearn.plot_regressor"]
    assert wandb_sklearn is wandb.sklearn


# --- PyTorch Lightning and Hugging Face: what they check and call ----------------------------


def test_lightning_finds_the_stand_in_as_a_wandb_distribution(wandb: ModuleType) -> None:
    import importlib.metadata

    from lightning_utilities.core.imports import RequirementCache

    distribution = importlib.metadata.distribution("wandb")
    assert Path(str(distribution.locate_file(""))) == SHIM_DIR
    assert distribution.version == wandb.__version__
    # Lightning's WandbLogger refuses to start without this requirement.
    assert bool(RequirementCache("wandb>=0.12.10"))


def test_lightning_logger_path_through_the_stand_in(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    # What lightning.pytorch.loggers.WandbLogger does with wandb, in its order.
    from wandb.sdk.lib import RunDisabled
    from wandb.wandb_run import Run

    experiment = wandb.init(name=None, project="lightning_logs", dir=".", id=None,
                            resume="allow", anonymous=None)
    assert isinstance(experiment, (Run, RunDisabled))
    experiment.define_metric("trainer/global_step")
    experiment.define_metric("*", step_metric="trainer/global_step", step_sync=True)
    with pytest.warns(RaysweepWarning, match="'lr' was locked by 'sweep'"):
        experiment.config.update({"lr": 0.5, "hidden": 8}, allow_val_change=True)
    for step in range(3):
        experiment.log({"train_loss": 1.0 / (step + 1), "trainer/global_step": step})
    assert getattr(experiment, "_attach_id", None) is None  # a spawned worker starts a run
    assert (experiment.name, experiment.id, experiment.config.hidden) == ("run-t1", "t1", 8)
    assert experiment.config.lr == 0.3  # the sweep's value wins, as in W&B
    assert experiment.dir == str(trial["dir"])
    wandb.finish()
    assert [r["trainer/global_step"] for r in trial["reports"]] == [0, 1, 2]


def test_hugging_face_callback_path_through_the_stand_in(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    # What transformers' WandbCallback (setup, on_log, on_train_end) does with wandb.
    from wandb.sdk.lib.config_util import ConfigError

    assert hasattr(wandb, "run")  # transformers' is_wandb_available()
    wandb.init(project="huggingface", name="out")
    wandb.config.update({"learning_rate": 0.3, "output_dir": "out"}, allow_val_change=True)
    wandb.define_metric("train/global_step")
    wandb.define_metric("*", step_metric="train/global_step", step_sync=True)
    wandb.termwarn("the run name is the output dir", repeat=False)
    wandb.run._label(code="transformers_trainer")
    wandb.config["model/num_parameters"] = 4
    with pytest.raises(ConfigError):
        wandb.config["model/num_parameters"] = 5
    for step in (1, 2):
        wandb.log({"train/loss": 1.0 / step, "train/global_step": step})
    wandb.run.summary["train_runtime"] = 0.5
    wandb.finish()
    assert trial["reports"] == [
        {"train/loss": 1.0, "train/global_step": 1, "_step": 0},
        {"train/loss": 0.5, "train/global_step": 2, "_step": 1},
        {"train_runtime": 0.5},
    ]


def test_run_private_members_are_no_ops_and_dunders_stay_missing(wandb: ModuleType) -> None:
    run = wandb.init()
    assert run._label(code="x", repo="y") is not None  # a no-op, whatever it returns
    run._set_config_wandb("pinned_keys", ["loss"])
    assert not hasattr(run, "__wrapped__")
    with pytest.raises(AttributeError):
        run.__missing_dunder__  # noqa: B018
    clone = copy.copy(run)
    assert clone.id == run.id and clone.config is run.config
    assert pickle.loads(pickle.dumps(run.config)).as_dict() == run.config.as_dict()


# --- a sweep on Ray whose only logging is the frameworks' callbacks ---------------------------


@pytest.mark.ray
def test_a_sweep_records_what_the_framework_callbacks_log(tmp_path: Path) -> None:
    # Defined here, so that Ray sends it to the workers by value.
    def _train_with_a_framework() -> None:
        import numpy as np
        import wandb

        run = wandb.init()
        rounds = int(run.config.rounds)
        rng = np.random.default_rng(0)
        x = rng.random((40, 3))
        y = x @ np.array([1.0, 2.0, 3.0])
        if run.config.framework == "xgboost":
            import xgboost as xgb
            from wandb.integration.xgboost import WandbCallback

            xgb.XGBRegressor(n_estimators=rounds, max_depth=2, callbacks=[WandbCallback()]).fit(
                x, y, eval_set=[(x, y)], verbose=False)
        elif run.config.framework == "lightgbm":
            import lightgbm as lgb
            from wandb.integration.lightgbm import wandb_callback

            data = lgb.Dataset(x, y)
            lgb.train({"objective": "regression", "verbose": -1, "min_data_in_leaf": 2}, data,
                      num_boost_round=rounds, valid_sets=[lgb.Dataset(x, y, reference=data)],
                      callbacks=[wandb_callback()])
        else:
            import os

            os.environ.setdefault("KERAS_BACKEND", "jax")
            import keras
            from wandb.integration.keras import WandbMetricsLogger

            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
            model.compile(optimizer="sgd", loss="mse")
            model.fit(x, y, epochs=rounds, verbose=0, callbacks=[WandbMetricsLogger()])

    sweep = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"framework": {"values": ["xgboost", "lightgbm", "keras"]},
                       "rounds": {"value": 3}},
    }
    result = raysweep.run(sweep, function=_train_with_a_framework,
                          storage=tmp_path / "results", name="frameworks")

    trials, history = result.trials, result.history
    assert (trials["status"] == "finished").all(), trials["error"].tolist()
    metric = {"xgboost": ("validation_0-rmse", "epoch"), "lightgbm": ("valid_0_l2", "iteration"),
              "keras": ("epoch/loss", "epoch/epoch")}
    for _, row in trials.iterrows():
        name, counter = metric[row["framework"]]
        rows = history[history["trial_id"] == row["trial_id"]]
        assert rows[counter].tolist() == [0, 1, 2], row["framework"]
        assert rows[name].notna().all() and len(rows) == 3, row["framework"]
