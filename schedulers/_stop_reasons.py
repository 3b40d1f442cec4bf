"""How raysweep's schedulers word a stop reason, and the result key that carries it (no Ray).

Every scheduler keeps one line per trial it stopped, e.g. ``"stopped at band 9: 0.41 >
threshold 0.37"``; the results table shows it, so a stopped trial reads differently from one
that finished. The numbers are shown the same way by every scheduler.
"""

from __future__ import annotations

__all__ = ["STOP_REASON_KEY", "show_number", "worse_relation"]

#: Result key under which a trial's stop reason reaches Tune's results (``result.json``,
#: ``ResultGrid``); :class:`~._base.StopReasonCallback` writes it.
STOP_REASON_KEY = "raysweep_stop_reason"


def show_number(number: float) -> str:
    """Format a metric value for a stop reason: 4 significant digits, ``0`` for ``-0.0``.

    >>> show_number(0.123456), show_number(-0.0), show_number(12345678.0)
    ('0.1235', '0', '1.235e+07')
    """
    # "+ 0.0" turns the -0.0 that negating a maximized 0 gives into "0".
    return f"{number + 0.0:.4g}"


def worse_relation(mode: str | None) -> str:
    """The sign between a stopped trial's value and the cutoff it missed.

    >>> worse_relation("max"), worse_relation("min")
    ('<', '>')
    """
    return "<" if mode == "max" else ">"
