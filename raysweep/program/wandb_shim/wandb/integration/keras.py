"""W&B's Keras integration: ``WandbMetricsLogger``, ``WandbCallback`` and the rest.

The callbacks are real ``keras.callbacks.Callback`` subclasses: of ``tensorflow.keras`` when
TensorFlow is imported already, else of ``keras`` (Keras 3 with any backend, or Keras 2),
else of ``tensorflow.keras``. They log what W&B's log:

- ``WandbMetricsLogger``: each epoch one row of ``epoch/<metric>`` (Keras's ``logs``),
  ``epoch/epoch`` and ``epoch/learning_rate``; with ``log_freq="batch"`` or ``N``, also a
  row of ``batch/<metric>``, ``batch/batch_step`` and ``batch/learning_rate`` every N batches.
- ``WandbCallback`` (W&B's older callback): each epoch one row of ``epoch`` and the
  ``logs``; every ``log_batch_frequency`` batches a row of the batch ``logs``; the best
  value of ``monitor`` and its epoch into the summary (``best_val_loss``, ``best_epoch``).
  Its model saving, images, weights and gradients are not made.
- ``WandbModelCheckpoint``: Keras's ``ModelCheckpoint`` (the files are saved where
  ``filepath`` says); W&B's upload as artifacts does not happen.
- ``WandbEvalCallback``: accepted; its prediction tables are not built (no W&B server).
"""

from __future__ import annotations

import abc
import sys
from typing import Any

import numpy as np

from raysweep.program.once import warn_once
from raysweep.program.wandb_integrations import improved, keras_monitor_mode, prefixed

from .. import _shim
from ..errors import Error

__all__ = ["WandbCallback", "WandbEvalCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]


def _keras_callbacks() -> Any:
    """The ``callbacks`` module of the Keras the user's model comes from."""
    if "tensorflow" in sys.modules:
        try:
            from tensorflow import keras as tf_keras

            return tf_keras.callbacks
        except ImportError:
            pass
    try:
        import keras

        return keras.callbacks
    except ImportError as exc:
        keras_error = exc  # keras missing, or its backend (KERAS_BACKEND) not installed
    try:
        from tensorflow import keras as tf_keras
    except ImportError as exc:
        raise ImportError(
            f"wandb.integration.keras needs Keras, and `import keras` failed ({keras_error}). "
            "Install keras and a backend (for example `pip install keras jax` and "
            "KERAS_BACKEND=jax), or tensorflow"
        ) from exc
    return tf_keras.callbacks


_callbacks = _keras_callbacks()
_Callback: Any = _callbacks.Callback
_ModelCheckpoint: Any = _callbacks.ModelCheckpoint


def _need_run(what: str) -> None:
    if _shim.run is None:
        raise Error(f"You must call `wandb.init()` before {what}()")


def _learning_rate(model: Any, step: int) -> float | None:
    """The optimizer's current learning rate (a variable, or a schedule called at ``step``)."""
    rate = getattr(getattr(model, "optimizer", None), "learning_rate", None)
    if rate is None:
        return None
    try:
        if callable(rate) and getattr(rate, "shape", None) is None:
            rate = rate(step)  # a LearningRateSchedule, as tf.keras 2 hands it out
        return float(np.asarray(rate))
    except Exception as exc:  # noqa: BLE001 - any optimizer: log the metrics without it
        warn_once("keras-lr", f"WandbMetricsLogger: unable to log the learning rate: {exc}")
        return None


class WandbMetricsLogger(_Callback):  # type: ignore[misc]
    """Log Keras's metrics and the learning rate, per epoch or every ``log_freq`` batches.

    Args:
        log_freq: ``"epoch"`` (default), ``"batch"`` (every batch) or a number of batches.
        initial_global_step: The step a resumed training starts at (for schedules).

    Raises:
        wandb.Error: No run was started (``wandb.init()``) before the callback was made.
    """

    def __init__(
        self, log_freq: str | int = "epoch", initial_global_step: int = 0, *args: Any,
        **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _need_run("WandbMetricsLogger")
        if log_freq == "batch":
            log_freq = 1
        self.logging_batch_wise = isinstance(log_freq, int)
        self.log_freq: int | None = log_freq if isinstance(log_freq, int) else None
        self.global_batch = 0
        self.global_step = initial_global_step
        section = "batch" if self.logging_batch_wise else "epoch"
        step = "batch/batch_step" if self.logging_batch_wise else "epoch/epoch"
        _shim.define_metric(step)
        _shim.define_metric(f"{section}/*", step_metric=step)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = {**prefixed(logs, "epoch/"), "epoch/epoch": epoch}
        rate = _learning_rate(self.model, self.global_step)
        if rate is not None:
            row["epoch/learning_rate"] = rate
        _shim.log(row)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        if self.log_freq is None or batch % self.log_freq:
            return
        row = {**prefixed(logs, "batch/"), "batch/batch_step": self.global_batch}
        rate = _learning_rate(self.model, self.global_step)
        if rate is not None:
            row["batch/learning_rate"] = rate
        _shim.log(row)
        self.global_batch += self.log_freq


class WandbCallback(_Callback):  # type: ignore[misc]
    """W&B's older Keras callback: each epoch's ``logs`` and the best ``monitor`` value.

    Args:
        monitor: The metric whose best value goes into the summary (``val_loss``).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name, as Keras decides).
        log_batch_frequency: Also log the batch ``logs`` every this many batches.
        log_best_prefix: Prefix of the summary keys (``best_``); empty for none.
        save_model: W&B saves the best model to ``model-best.h5``; not here.
        **kwargs: W&B's other arguments (images, weights, gradients...), accepted.

    Raises:
        wandb.Error: No run was started (``wandb.init()``) before the callback was made.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        verbose: int = 0,
        mode: str = "auto",
        save_weights_only: bool = False,
        log_weights: bool = False,
        log_gradients: bool = False,
        save_model: bool = True,
        log_batch_frequency: int | None = None,
        log_best_prefix: str = "best_",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        _need_run("WandbCallback")
        self.monitor = monitor
        self.verbose = verbose
        self.mode = keras_monitor_mode(monitor, mode)
        self.save_model = save_model
        self.log_batch_frequency = log_batch_frequency
        self.log_best_prefix = log_best_prefix
        self.current: Any = None
        previous = _shim.summary.get(f"{log_best_prefix}{monitor}")  # a resumed run's best
        self.best: float | None = None if previous is None else float(previous)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        _shim.log({"epoch": epoch, **logs})
        self.current = logs.get(self.monitor)
        if not improved(self.current, self.best, self.mode):
            return
        self.best = float(self.current)
        if self.log_best_prefix and _shim.run is not None:
            _shim.run.summary[f"{self.log_best_prefix}{self.monitor}"] = self.best
            _shim.run.summary[f"{self.log_best_prefix}epoch"] = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.log_batch_frequency and batch % self.log_batch_frequency == 0:
            _shim.log(dict(logs or {}))


class WandbModelCheckpoint(_ModelCheckpoint):  # type: ignore[misc]
    """Keras's ``ModelCheckpoint`` with W&B's arguments; no upload as artifacts."""

    def __init__(
        self,
        filepath: Any,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            filepath=filepath, monitor=monitor, verbose=verbose, save_best_only=save_best_only,
            save_weights_only=save_weights_only, mode=mode, save_freq=save_freq,
            initial_value_threshold=initial_value_threshold, **kwargs,
        )
        _need_run("WandbModelCheckpoint")


class WandbEvalCallback(_Callback, abc.ABC):  # type: ignore[misc]
    """W&B's base for prediction tables: accepted; no table is built or logged here."""

    def __init__(
        self, data_table_columns: list[str], pred_table_columns: list[str], *args: Any,
        **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _need_run("WandbEvalCallback")
        self.data_table_columns = data_table_columns
        self.pred_table_columns = pred_table_columns
        warn_once(
            "keras-eval-callback",
            "WandbEvalCallback builds no tables under raysweep's wandb stand-in (there is no "
            "W&B server to show them); metrics from wandb.log still reach raysweep",
            stacklevel=4,
        )

    @abc.abstractmethod
    def add_ground_truth(self, logs: dict[str, Any] | None = None) -> None:
        """Fill the data table (W&B calls it when training begins; not called here)."""

    @abc.abstractmethod
    def add_model_predictions(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Fill the predictions table (W&B calls it each epoch; not called here)."""

    def init_data_table(self, column_names: list[str]) -> None:
        """Accepted; no table."""

    def init_pred_table(self, column_names: list[str]) -> None:
        """Accepted; no table."""

    def log_data_table(self, name: str = "val", type: str = "dataset",  # noqa: A002
                       table_name: str = "val_data") -> None:
        """Accepted; nothing is logged."""

    def log_pred_table(self, type: str = "evaluation", table_name: str = "eval_data",  # noqa: A002
                       aliases: list[str] | None = None) -> None:
        """Accepted; nothing is logged."""
