"""The one ``wandb.util`` helper that scripts commonly call."""

import secrets
import string

__all__ = ["generate_id"]


def generate_id(length: int = 8) -> str:
    """Return a random run id of lowercase letters and digits, as ``wandb.util`` does."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
