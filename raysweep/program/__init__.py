"""The side of a user's program: how it reports metrics, and the W&B API it may call.

- ``metrics``: the report channel (``raysweep.log`` and the ``@raysweep {...}`` line).
- ``once``: warnings shown once per process.

raysweep runs scripts written for W&B Sweeps unchanged, with a small package named ``wandb``
(``wandb_shim/wandb``) that a trial imports instead of W&B's. That package is a thin layer
over these rules, one module per concept:

- ``wandb_config``: ``wandb.config``, its locked sweep keys and ``allow_val_change``.
- ``wandb_history``: ``wandb.log`` rows by step and commit, and what of a row raysweep records.
- ``wandb_summary``: ``run.summary`` and ``define_metric``.
- ``wandb_init``: what ``wandb.init`` reads, the sweep's environment (``WANDB_SWEEP_ID``, ...)
  and its config arguments.
- ``wandb_agent``: what the W&B agent does for a run: the parameter file, the environment,
  and ``function_trial`` for functions run in a Ray worker.
- ``wandb_package``: which ``wandb`` a trial imports, the stand-in (``SHIM_DIR`` on the path)
  or the installed package, patched (``--wandb real``).
- ``wandb_media``: how logged images, tables, histograms and charts are saved in the trial's
  ``media/`` folder (bounded), and its index.
- ``wandb_artifacts``: artifact names resolved against the sweep's ``raysweep.artifacts``;
  logged artifacts copied into the trial's ``artifacts/``.
- ``wandb_integrations``: the metric names of W&B's framework callbacks (Keras, XGBoost,
  LightGBM).
- ``wandb_files``: ``wandb.save`` / ``wandb.restore`` and resumed runs, on the trial's
  checkpoint folder (``early_terminate: {resume: checkpoint}``, :mod:`.checkpoint`).
- ``wandb_driver``: the hook by which ``wandb.sweep`` / ``wandb.agent`` called outside a trial
  reach raysweep's driver (``raysweep.agent_host``).

The stand-in imports these modules; none of them imports the stand-in.
"""

__all__: list[str] = []
