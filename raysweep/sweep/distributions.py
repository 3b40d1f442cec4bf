"""W&B's 18 parameter distributions: one frozen dataclass each, with sampling, the prior's
CDF and inverse CDF (for bayes) and grid enumeration.

Pure: no Ray, no I/O. The semantics are W&B's engine's, so a sweep draws from the same
distributions under raysweep as under W&B:

====================== ============================ ==============================================
distribution           keys (defaults)              value
====================== ============================ ==============================================
constant               value                        value
categorical            values                       uniform over the list
categorical_w_prob...  values, probabilities        by probability
int_uniform            min, max (ints)              integer in [min, max], both ends included
uniform                min, max                     U[min, max]
q_uniform              min, max, q=1.0              round(U[min, max] / q) * q
log_uniform (v1)       min, max = ln exponents      exp(U[min, max])
log_uniform_values     min > 0, max                 exp(U[ln min, ln max])
q_log_uniform (v1)     min, max, q=1.0              round(exp(U[min, max]) / q) * q
q_log_uniform_values   min > 0, max, q=1.0          round(exp(U[ln min, ln max]) / q) * q
inv_log_uniform (v1)   min, max = ln(1/x) exponents exp(-U[min, max])
inv_log_uniform_values min > 0, max                 exp(-U[-ln max, -ln min])
normal, q_normal       mu=0, sigma=1, q=1.0         N(mu, sigma) (then rounded)
log_normal, q_log_n... mu=0, sigma=1, q=1.0         exp(N(mu, sigma)) (then rounded)
beta, q_beta           a=1, b=1, q=1.0              Beta(a, b) (then rounded)
====================== ============================ ==============================================

Quantised values use banker's rounding (``np.round``: 2.5 -> 2) and are Python ``int`` only
when ``q`` was written as an integer; the default ``q=1.0`` gives floats (``3.0``), as in W&B.
They may fall outside [min, max] (``q_uniform{min: 1, max: 10, q: 4}`` gives 0, 4 or 8).

Grid search enumerates ``constant`` (outside the product), ``categorical``, ``int_uniform``
(``range(min, max + 1)``) and ``q_uniform`` (``np.arange(min, max, q)``, max excluded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from raysweep.numeric import is_finite_number, is_integer, is_number
from raysweep.sweep.equality import canonical, unique_values

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "SPEC_CLASSES",
    "Beta",
    "Categorical",
    "CategoricalWithProbabilities",
    "Constant",
    "Continuous",
    "Distribution",
    "IntUniform",
    "InvLogUniform",
    "InvLogUniformValues",
    "LogNormal",
    "LogUniform",
    "LogUniformValues",
    "Normal",
    "ParamSpec",
    "QBeta",
    "QLogNormal",
    "QLogUniform",
    "QLogUniformValues",
    "QNormal",
    "QUniform",
    "Uniform",
    "quantize",
]


class Distribution(str, Enum):
    """The ``distribution:`` names W&B accepts."""

    CONSTANT = "constant"
    CATEGORICAL = "categorical"
    CATEGORICAL_W_PROBABILITIES = "categorical_w_probabilities"
    INT_UNIFORM = "int_uniform"
    UNIFORM = "uniform"
    Q_UNIFORM = "q_uniform"
    LOG_UNIFORM = "log_uniform"
    LOG_UNIFORM_VALUES = "log_uniform_values"
    Q_LOG_UNIFORM = "q_log_uniform"
    Q_LOG_UNIFORM_VALUES = "q_log_uniform_values"
    INV_LOG_UNIFORM = "inv_log_uniform"
    INV_LOG_UNIFORM_VALUES = "inv_log_uniform_values"
    NORMAL = "normal"
    Q_NORMAL = "q_normal"
    LOG_NORMAL = "log_normal"
    Q_LOG_NORMAL = "q_log_normal"
    BETA = "beta"
    Q_BETA = "q_beta"

    def __str__(self) -> str:
        return self.value


def quantize(x: float, q: float | int) -> float | int:
    """Round ``x`` to a multiple of ``q`` as W&B does: banker's rounding, an ``int`` only when
    ``q`` is one.

    >>> quantize(2.5, 1), quantize(7.5, 5), quantize(2.6, 1.0)
    (2, 10, 3.0)
    """
    import numpy as np

    y = float(np.round(x / q) * q)
    if is_integer(q):
        return int(y)
    return y


@dataclass(frozen=True)
class ParamSpec:
    """Base of every parameter specification.

    ``kind`` tells searchers how to treat the parameter: ``"constant"``, ``"categorical"``,
    ``"int"`` or ``"float"``.
    """

    distribution: ClassVar[Distribution]
    kind: ClassVar[str]

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value with W&B's semantics."""
        raise NotImplementedError

    def grid_values(self) -> list[Any] | None:
        """Return the values grid search enumerates, or None if the spec is continuous."""
        return None

    def grid_count(self) -> float | None:
        """Number of values grid search enumerates (without building them), or None."""
        values = self.grid_values()
        return None if values is None else len(values)

    def contains(self, value: Any) -> bool:
        """Return True if ``value`` is a value this spec can produce."""
        raise NotImplementedError

    def describe(self) -> str:
        """Return a short human description of the range or values."""
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(ParamSpec):
    """A fixed value (``value: x``); never searched."""

    value: Any
    distribution = Distribution.CONSTANT
    kind = "constant"

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def grid_values(self) -> list[Any] | None:
        return [self.value]

    def contains(self, value: Any) -> bool:
        return bool(canonical(value) == canonical(self.value))

    def describe(self) -> str:
        return repr(self.value)


@dataclass(frozen=True)
class Categorical(ParamSpec):
    """One of ``values``, each equally likely."""

    values: tuple[Any, ...]
    distribution = Distribution.CATEGORICAL
    kind = "categorical"

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def grid_values(self) -> list[Any] | None:
        return unique_values(self.values)

    def contains(self, value: Any) -> bool:
        key = canonical(value)
        return any(canonical(v) == key for v in self.values)

    def describe(self) -> str:
        return "[" + ", ".join(repr(v) for v in self.values) + "]"


@dataclass(frozen=True)
class CategoricalWithProbabilities(Categorical):
    """One of ``values`` drawn with the given ``probabilities``; not allowed in grid search."""

    probabilities: tuple[float, ...] = ()
    distribution = Distribution.CATEGORICAL_W_PROBABILITIES

    def sample(self, rng: np.random.Generator) -> Any:
        cumulative = 0.0
        u = float(rng.random())
        for value, p in zip(self.values, self.probabilities, strict=True):
            cumulative += p
            if u < cumulative:
                return value
        return self.values[-1]

    def grid_values(self) -> list[Any] | None:
        return None

    def describe(self) -> str:
        pairs = (f"{v!r}: {p:g}" for v, p in zip(self.values, self.probabilities, strict=True))
        return "{" + ", ".join(pairs) + "}"


@dataclass(frozen=True)
class IntUniform(ParamSpec):
    """An integer in [min, max], both ends included."""

    min: int
    max: int
    distribution = Distribution.INT_UNIFORM
    kind = "int"

    def sample(self, rng: np.random.Generator) -> Any:
        return int(rng.integers(self.min, self.max + 1))

    def grid_values(self) -> list[Any] | None:
        return list(range(self.min, self.max + 1))

    def grid_count(self) -> float | None:
        return self.max - self.min + 1

    def contains(self, value: Any) -> bool:
        return is_integer(value) and self.min <= value <= self.max

    def to_unit(self, value: float) -> float:
        """Map a value to [0, 1] (the prior's CDF, continuous relaxation)."""
        return (value - self.min + 0.5) / (self.max - self.min + 1)

    def from_unit(self, u: float) -> int:
        """Map u in [0, 1] back to an integer of the range."""
        n = self.max - self.min + 1
        return self.min + min(n - 1, max(0, int(math.floor(u * n))))

    def describe(self) -> str:
        return f"[{self.min}, {self.max}]"


@dataclass(frozen=True)
class Continuous(ParamSpec):
    """A real-valued spec, optionally quantised by ``q`` (the ``q_`` variants)."""

    kind = "float"
    quantized: ClassVar[bool] = False

    @property
    def step(self) -> float | int | None:
        return getattr(self, "q", None) if self.quantized else None

    def _draw(self, rng: np.random.Generator) -> float:
        raise NotImplementedError

    def ppf(self, u: float) -> float:
        """Inverse CDF of the unquantised prior."""
        raise NotImplementedError

    def cdf(self, x: float) -> float:
        """CDF of the unquantised prior."""
        raise NotImplementedError

    def _finish(self, x: float) -> float | int:
        q = self.step
        return quantize(x, q) if q is not None else float(x)

    def sample(self, rng: np.random.Generator) -> Any:
        return self._finish(self._draw(rng))

    def to_unit(self, value: float) -> float:
        """Map a value to [0, 1] through the prior's CDF (W&B's warping)."""
        return min(1.0, max(0.0, self.cdf(float(value))))

    def from_unit(self, u: float) -> Any:
        """Map u in [0, 1] to a value through the prior's inverse CDF, quantised if needed."""
        u = min(1.0 - 1e-12, max(1e-12, float(u)))
        return self._finish(self.ppf(u))

    def _bounds(self) -> tuple[float, float] | None:
        return None

    def contains(self, value: Any) -> bool:
        if not is_number(value):
            return False
        q = self.step
        if q is not None and isinstance(q, int) and not isinstance(value, int):
            return False
        bounds = self._bounds()
        if bounds is None:
            return is_finite_number(value)
        lo, hi = bounds
        slack = abs(q) if q is not None else 1e-9 * max(1.0, abs(lo), abs(hi))
        return lo - slack <= value <= hi + slack


@dataclass(frozen=True)
class _Bounded(Continuous):
    min: float
    max: float


@dataclass(frozen=True)
class Uniform(_Bounded):
    """U[min, max]."""

    distribution = Distribution.UNIFORM

    def _draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.min, self.max))

    def ppf(self, u: float) -> float:
        return self.min + u * (self.max - self.min)

    def cdf(self, x: float) -> float:
        return (x - self.min) / (self.max - self.min)

    def _bounds(self) -> tuple[float, float]:
        return (self.min, self.max)

    def describe(self) -> str:
        return f"[{self.min:g}, {self.max:g}]"


@dataclass(frozen=True)
class QUniform(Uniform):
    """round(U[min, max] / q) * q."""

    q: float | int = 1.0
    distribution = Distribution.Q_UNIFORM
    quantized = True

    def grid_values(self) -> list[Any] | None:
        import numpy as np

        return list(np.arange(self.min, self.max, self.q).tolist())

    def grid_count(self) -> float | None:
        return float(math.ceil((self.max - self.min) / self.q))

    def describe(self) -> str:
        return f"[{self.min:g}, {self.max:g}] step {self.q:g}"


@dataclass(frozen=True)
class LogUniform(_Bounded):
    """exp(U[min, max]): W&B's deprecated v1 form, whose bounds are natural-log exponents."""

    distribution = Distribution.LOG_UNIFORM

    def _lo_hi(self) -> tuple[float, float]:
        return (self.min, self.max)

    def _draw(self, rng: np.random.Generator) -> float:
        lo, hi = self._lo_hi()
        return math.exp(float(rng.uniform(lo, hi)))

    def ppf(self, u: float) -> float:
        lo, hi = self._lo_hi()
        return math.exp(lo + u * (hi - lo))

    def cdf(self, x: float) -> float:
        lo, hi = self._lo_hi()
        if x <= 0:
            return 0.0
        return (math.log(x) - lo) / (hi - lo)

    def _bounds(self) -> tuple[float, float]:
        lo, hi = self._lo_hi()
        return (math.exp(lo), math.exp(hi))

    def describe(self) -> str:
        lo, hi = self._bounds()
        return f"[{lo:.4g}, {hi:.4g}] log scale"


@dataclass(frozen=True)
class LogUniformValues(LogUniform):
    """exp(U[ln min, ln max]): log-uniform between the values min and max."""

    distribution = Distribution.LOG_UNIFORM_VALUES

    def _lo_hi(self) -> tuple[float, float]:
        return (math.log(self.min), math.log(self.max))


@dataclass(frozen=True)
class QLogUniform(LogUniform):
    """round(exp(U[min, max]) / q) * q (v1: exponent bounds)."""

    q: float | int = 1.0
    distribution = Distribution.Q_LOG_UNIFORM
    quantized = True


@dataclass(frozen=True)
class QLogUniformValues(LogUniformValues):
    """round(exp(U[ln min, ln max]) / q) * q."""

    q: float | int = 1.0
    distribution = Distribution.Q_LOG_UNIFORM_VALUES
    quantized = True


@dataclass(frozen=True)
class InvLogUniform(_Bounded):
    """exp(-U[min, max]): W&B's deprecated v1 form (bounds are exponents of 1/x)."""

    distribution = Distribution.INV_LOG_UNIFORM

    def _lo_hi(self) -> tuple[float, float]:
        """Bounds of the uniform variable that is negated and exponentiated."""
        return (self.min, self.max)

    def _draw(self, rng: np.random.Generator) -> float:
        lo, hi = self._lo_hi()
        return math.exp(-float(rng.uniform(lo, hi)))

    def ppf(self, u: float) -> float:
        # Increasing in u: large u means a small exponent, hence a large value.
        lo, hi = self._lo_hi()
        return math.exp(-(hi - u * (hi - lo)))

    def cdf(self, x: float) -> float:
        lo, hi = self._lo_hi()
        if x <= 0:
            return 0.0
        return (hi + math.log(x)) / (hi - lo)

    def _bounds(self) -> tuple[float, float]:
        lo, hi = self._lo_hi()
        return (math.exp(-hi), math.exp(-lo))

    def describe(self) -> str:
        lo, hi = self._bounds()
        return f"[{lo:.4g}, {hi:.4g}] log scale"


@dataclass(frozen=True)
class InvLogUniformValues(InvLogUniform):
    """exp(-U[-ln max, -ln min]): the same distribution as log_uniform_values."""

    distribution = Distribution.INV_LOG_UNIFORM_VALUES

    def _lo_hi(self) -> tuple[float, float]:
        return (-math.log(self.max), -math.log(self.min))


@dataclass(frozen=True)
class Normal(Continuous):
    """N(mu, sigma)."""

    mu: float = 0.0
    sigma: float = 1.0
    distribution = Distribution.NORMAL

    def _draw(self, rng: np.random.Generator) -> float:
        return float(rng.normal(self.mu, self.sigma))

    def ppf(self, u: float) -> float:
        if self.sigma == 0:
            return float(self.mu)
        from statistics import NormalDist

        return NormalDist(self.mu, self.sigma).inv_cdf(u)

    def cdf(self, x: float) -> float:
        if self.sigma == 0:
            return 0.5
        from statistics import NormalDist

        return NormalDist(self.mu, self.sigma).cdf(x)

    def describe(self) -> str:
        return f"mu={self.mu:g}, sigma={self.sigma:g}"


@dataclass(frozen=True)
class QNormal(Normal):
    """round(N(mu, sigma) / q) * q."""

    q: float | int = 1.0
    distribution = Distribution.Q_NORMAL
    quantized = True


@dataclass(frozen=True)
class LogNormal(Normal):
    """exp(N(mu, sigma))."""

    distribution = Distribution.LOG_NORMAL

    def _draw(self, rng: np.random.Generator) -> float:
        return math.exp(float(rng.normal(self.mu, self.sigma)))

    def ppf(self, u: float) -> float:
        return math.exp(super().ppf(u))

    def cdf(self, x: float) -> float:
        if x <= 0:
            return 0.0
        return super().cdf(math.log(x))

    def contains(self, value: Any) -> bool:
        return super().contains(value) and value >= 0


@dataclass(frozen=True)
class QLogNormal(LogNormal):
    """round(exp(N(mu, sigma)) / q) * q."""

    q: float | int = 1.0
    distribution = Distribution.Q_LOG_NORMAL
    quantized = True


@dataclass(frozen=True)
class Beta(Continuous):
    """Beta(a, b) on [0, 1]."""

    a: float = 1.0
    b: float = 1.0
    distribution = Distribution.BETA

    def _draw(self, rng: np.random.Generator) -> float:
        return float(rng.beta(self.a, self.b))

    def ppf(self, u: float) -> float:
        from scipy import stats

        return float(stats.beta(self.a, self.b).ppf(u))

    def cdf(self, x: float) -> float:
        from scipy import stats

        return float(stats.beta(self.a, self.b).cdf(x))

    def _bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def describe(self) -> str:
        return f"a={self.a:g}, b={self.b:g}"


@dataclass(frozen=True)
class QBeta(Beta):
    """round(Beta(a, b) / q) * q."""

    q: float | int = 1.0
    distribution = Distribution.Q_BETA
    quantized = True


SPEC_CLASSES: dict[Distribution, type[ParamSpec]] = {
    cls.distribution: cls
    for cls in (
        Constant,
        Categorical,
        CategoricalWithProbabilities,
        IntUniform,
        Uniform,
        QUniform,
        LogUniform,
        LogUniformValues,
        QLogUniform,
        QLogUniformValues,
        InvLogUniform,
        InvLogUniformValues,
        Normal,
        QNormal,
        LogNormal,
        QLogNormal,
        Beta,
        QBeta,
    )
}
