"""``import raysweep.wandb as wandb``: W&B's API in a notebook or script, sweeps run by raysweep.

The one line a notebook written for W&B Sweeps needs. After it, the notebook's own
``wandb.sweep(config)`` and ``wandb.agent(sweep_id, function=train, count=N)`` run the sweep on
Ray (a private local one unless Ray is already initialised), and ``train`` keeps calling
``wandb.init``, ``wandb.config`` and ``wandb.log`` unchanged. ``wandb.agent`` returns the
sweep's results (``.trials``, ``.history``, ``.best``; W&B's returns None). A later
``import wandb`` gives the same module; no W&B account, network or package is needed.

This module replaces itself by raysweep's stand-in ``wandb`` package
(:func:`raysweep.agent_host.install`), so ``raysweep.wandb`` *is* that package.
"""

import sys as _sys

from raysweep.agent_host import install as _install

_sys.modules[__name__] = _install()
