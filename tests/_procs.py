"""Process checks shared by the tests that make sure no trial process outlives its trial."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie counts as dead (this sandbox's PID 1 never reaps)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # The state is the first field after the command name, which is in parentheses
            # and may contain anything.
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in (b"Z", b"X")
