"""What counts as a number, an integer and a finite number: one set of rules for the project.

Two kinds of input, two domains:

- Values of the sweep document (bounds, ``eta``, ``run_cap``, resources) are YAML's numbers:
  ``int`` or ``float``. A ``bool`` is refused although Python counts it as an int, since
  ``min: true`` is a mistake, not 1. Other numeric types (numpy scalars, ``Fraction``) are
  refused too: the document is written back as YAML with the results and turned into argv.
- Values a program reports (metrics, histories) may be any real number, numpy scalars
  included, since training loops produce them; they are read as ``float``.

"Finite" means a finite float can hold the value: NaN and +-inf are not, and neither is an
``int`` too large for a float (``10**400``), which every later float computation would fail on.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, TypeGuard

__all__ = ["finite_float", "is_finite_number", "is_integer", "is_number"]


def is_number(value: Any) -> TypeGuard[int | float]:
    """Return True for a sweep-document number: an ``int`` or ``float``, not a ``bool``.

    >>> [is_number(v) for v in (1, 2.5, float("nan"), True, "1", None)]
    [True, True, True, False, False, False]
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> TypeGuard[int]:
    """Return True for a sweep-document integer: an ``int``, not a ``bool`` (``3.0`` is not).

    >>> [is_integer(v) for v in (3, 3.0, False, "3")]
    [True, False, False, False]
    """
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """Return True for a sweep-document number that a finite float can hold.

    >>> [is_finite_number(v) for v in (1, -2.5, float("nan"), float("inf"), 10**400, True)]
    [True, True, False, False, False, False]
    """
    if not is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def finite_float(value: Any) -> float | None:
    """Return a reported value as a float if it is a finite real number, else None.

    Any real number is accepted (numpy scalars and ``Fraction`` included); bools
    (``numpy.bool_`` too), strings, None, NaN, +-inf and ints beyond the float range are not.

    >>> [finite_float(v) for v in (1, 2.5, float("nan"), float("-inf"), True, "3", None)]
    [1.0, 2.5, None, None, None, None, None]
    >>> import numpy as np
    >>> [finite_float(v) for v in (np.float32(0.5), np.int64(3), np.bool_(True), 10**400)]
    [0.5, 3.0, None, None]
    """
    # numpy.bool_ is not a numbers.Real, so only Python's bool needs excluding.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        x = float(value)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None
