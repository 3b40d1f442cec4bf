"""W&B's hyperband bands: the metric-report counts at which runs are judged.

One home for this arithmetic: the config checker refuses an ``early_terminate`` without bands,
``raysweep preview`` shows them and the hyperband scheduler stops runs at them.
"""

from __future__ import annotations

from raysweep.numeric import finite_float

__all__ = ["HYPERBAND_MIN_ITER_BANDS", "hyperband_bands"]

# W&B computes this many bands from min_iter.
HYPERBAND_MIN_ITER_BANDS = 100


def hyperband_bands(
    eta: float, min_iter: int | None, max_iter: int | None, s: int | None
) -> tuple[int, ...]:
    """Return W&B's hyperband bands, computed with W&B's float arithmetic.

    ``max_iter`` with ``s`` takes precedence: divide by ``eta`` ``s`` times, stop once the
    value drops below 1, keep ``int(value)``, sorted. Otherwise ``min_iter`` multiplied by
    ``eta`` 99 times, keeping ``int`` of each value: repeated multiplication, not
    ``min_iter * eta**k``, since the two round differently (``eta: 1.2`` from 750 gives 1296,
    not 1295).

    >>> hyperband_bands(3, None, 27, 2)
    (3, 9)
    >>> hyperband_bands(3, 3, None, None)[:4]
    (3, 9, 27, 81)
    >>> hyperband_bands(1.5, 30, None, None)[:4]
    (30, 45, 67, 101)
    >>> hyperband_bands(1.2, 750, None, None)[:5]
    (750, 900, 1080, 1296, 1555)
    """
    if max_iter is not None and s is not None:
        bands = []
        value = float(max_iter)
        for _ in range(s):
            value /= eta
            if value < 1:
                break
            bands.append(int(value))
        return tuple(sorted(bands))
    if min_iter is not None:
        out = []
        current: float = min_iter  # stays an exact int while eta is an int, as in W&B
        for _ in range(HYPERBAND_MIN_ITER_BANDS):
            if finite_float(current) is None:  # inf, or an int beyond the float range
                break
            out.append(int(current))
            current *= eta
        return tuple(out)
    return ()
