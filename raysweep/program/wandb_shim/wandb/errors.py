"""Exception classes of the ``wandb`` API, so ``except wandb.errors.CommError`` works."""


class Error(Exception):
    """Base class of wandb errors."""


class CommError(Error):
    """Communication with W&B failed (never raised by raysweep's stand-in: it has no server)."""


class UsageError(Error):
    """The wandb API was used wrongly."""


class AuthenticationError(CommError):
    """Login failed (never raised by raysweep's stand-in)."""


__all__ = ["AuthenticationError", "CommError", "Error", "UsageError"]
