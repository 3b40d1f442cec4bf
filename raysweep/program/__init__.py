"""The side of a user's program: how it reports metrics, and the W&B API it may call.

``metrics`` is the report channel (``raysweep.log`` and the ``@raysweep {...}`` line);
``wandb_compat`` holds the rules of the ``wandb`` stand-in in ``wandb_shim/``, which a trial's
program imports under the name ``wandb``.
"""

__all__: list[str] = []
