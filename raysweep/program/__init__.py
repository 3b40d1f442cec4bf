"""The side of a user's program: how it reports metrics, and the W&B API it may call.

``metrics`` is the report channel (``raysweep.log`` and the ``@raysweep {...}`` line). The
``wandb_*`` modules hold W&B's run rules (``wandb_compat`` lists them), which the ``wandb``
stand-in in ``wandb_shim/`` follows; a trial's program imports that stand-in under the name
``wandb``. The stand-in imports these modules, never the other way round.
"""

__all__: list[str] = []
