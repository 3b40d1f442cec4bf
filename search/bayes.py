"""Bayesian optimisation: a Gaussian-process searcher built on ``bayes_opt`` 3.x.

``method: bayes`` with W&B's semantics where they matter to users (the prior's CDF warp, the
``impute`` rules for failed runs) and a stronger model where W&B's is weak
(``docs/wandb-sweeps-spec.md`` §b.3):

=========================  ===================================  ==================================
aspect                     W&B's bayes                          :class:`BayesProposer`
=========================  ===================================  ==================================
search space               prior CDF warp to [0, 1]             the same warp (log scales are log)
categoricals               ordinal: index i -> (i + 1) / n      one-hot (``bayes_opt`` categorical)
start                      random until 2 runs finished         scrambled Sobol design from the
                                                                priors (``n_initial`` points)
kernel                     isotropic Matern 3/2, max.           Matern 5/2 with one length scale
                           likelihood                           per dimension, amplitude and noise;
                                                                MAP fit under weak priors
targets                    standardised                         standardised, then a power warp
                                                                that tames very bad losses
acquisition                EI, best of 1000 random points       log-EI, L-BFGS-B with analytic
                                                                gradients from the best of ~800
                                                                random and local candidates
parallel trials            kriging believer                     EI averaged over 16 joint draws
                                                                of the pending trials' outcomes
duplicates                 allowed (wandb/sweeps#1660)          never, while the space has an
                                                                unseen configuration; no point
                                                                within 0.1 % of a length scale of
                                                                a known one while another will do
failed run, no data        0.0 (looks good when minimising)     worst loss seen so far
=========================  ===================================  ==================================

Encoding. Every float and int parameter becomes one ``bayes_opt`` float parameter on (0, 1):
the prior's CDF (``spec.to_unit``), so the model searches where the prior puts its mass and a
log-uniform range is searched in log space. Integers and quantised floats are snapped to the
unit value of the number they round to, so the model always sees what was actually run.
Categoricals are ``bayes_opt`` categorical parameters over *indices* into the distinct allowed
values (values may be unhashable lists, dicts or None); values with prior probability 0 are
never proposed. Constants are added to every proposal.

Failed trials (``observe(config, None)``, or a NaN/inf loss) are imputed per ``metric.impute``,
re-evaluated every time the model is built: ``worst`` is the worst finite loss seen so far. The
proposer only ever receives a trial's final score, so ``best`` and ``latest`` (which W&B reads
from the failed run's own history) have nothing to read and fall back to ``worst``, as W&B does
for a failed run without data. While no trial has a finite loss, failures carry no information
and are left out of the model (W&B's 0.0 would make a crash look like a perfect score). With
``metric.impute_while_running`` set, running trials are told the worst loss (W&B's rule)
instead of being drawn from the model.

Exhausted spaces. A proposal is never a configuration already proposed or observed (W&B's
equality of values, :meth:`raysweep.sweep.space.SearchSpace.key`). When every configuration of a
finite space (only categoricals and int ranges) has been used, :meth:`BayesProposer.propose`
returns None and the sweep ends. A space with a float parameter is never declared used up: if
many candidates in a row all repeat (quantised floats on a short range), the best one is
proposed again.

What ``bayes_opt`` does here: its ``TargetSpace`` encodes parameters (floats, one-hot
categoricals), its ``GaussianProcessRegressor`` is the model (our kernel and our MAP optimiser
go in through ``set_gp_params``), and the log-EI is a ``bayes_opt`` acquisition function. Its
``suggest()`` / ``register()`` loop is not used: imputed losses change as data arrive and lies
must be withdrawn, so the model is rebuilt from the proposer's own observations each time, and
its acquisition optimiser (10,000 random points plus gradient-free L-BFGS-B, or differential
evolution once a parameter is discrete) took 0.25 s per suggestion at 200 points.

Speed. The GP's hyper-parameters are fitted (MAP, warm-started from the last fit) on every
observation up to 50 observations, then whenever the data have grown by 5 %, on at most 120
rows (the 40 best and the most recent); in between the GP is only conditioned on the data, one
Cholesky factorisation. Beyond 300 observations the GP sees the 100 best and the 200 most
recent. BLAS runs single-threaded inside :meth:`BayesProposer.propose`. A suggestion with 200
observations in 6-D takes a median 0.03 s on 2 cores (``benchmarks/bench_bayes.py``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np
from bayes_opt import BayesianOptimization, acquisition
from bayes_opt.parameter import CategoricalParameter
from scipy.linalg import LinAlgError, solve_triangular
from scipy.optimize import minimize
from scipy.special import erfcx, ndtr
from scipy.stats import qmc, yeojohnson, yeojohnson_normmax
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from threadpoolctl import ThreadpoolController

from raysweep.sweep.space import (
    Categorical,
    CategoricalWithProbabilities,
    IntUniform,
    ParamPath,
    ParamSpec,
    SearchSpace,
    canonical,
)

from ._base import FlatConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from raysweep.sweep.config import Metric

__all__ = ["BayesProposer"]

_STATE_VERSION = 1

# Model-size and effort knobs, measured with benchmarks/bench_bayes.py (README "Search quality
# and speed"). Changing one changes the proposals for a given seed.
_MIN_DIST = 1e-3  # closer than this (in length scales) to a known point is a near-duplicate
_MAX_POINTS = 300  # above this the GP sees the best _KEEP_BEST and the most recent rest
_KEEP_BEST = 100
_FIT_POINTS = 120  # hyper-parameters are fitted on at most this many rows
_ALWAYS_FIT_UNTIL = 50  # refit hyper-parameters on every observation up to this many
_REFIT_GROWTH = 0.05  # then refit when the data grew by this fraction
_N_RANDOM = 512  # uniform candidates per suggestion
_N_LOCAL = 64  # candidates around each of the _TOP_OBSERVED best observations
_TOP_OBSERVED = 5
_N_TOP_STARTS = 3  # local searches from the best candidates
_N_ROULETTE_STARTS = 4  # and from candidates drawn with probability ~ EI
_LBFGS_ITERS = 100
_MAX_REPEAT_DRAWS = 200  # random draws before a continuous space may repeat a configuration
_MAX_ENUMERATE = 100_000  # finite spaces up to this size are enumerated once nearly used up
_N_FANTASIES = 16  # draws of the pending trials' outcomes (parallel trials)


# The GP's matrices are at most _MAX_POINTS wide: a BLAS thread pool only adds overhead there,
# and a lot of it when trials compete for the cores (8x slower measured on 2 busy cores).
_THREADPOOLS = ThreadpoolController()


@dataclass(frozen=True)
class _Dim:
    """One searchable parameter and where it lives in the encoded vector."""

    path: ParamPath
    spec: ParamSpec
    kind: str  # "float", "int", "categorical", or "fixed" (a categorical with one value)
    key: str  # the bayes_opt parameter name
    values: tuple[Any, ...] = ()  # categorical: distinct values that can be proposed
    weights: tuple[float, ...] = ()  # categorical: their prior probabilities


def _categorical_dim(path: ParamPath, spec: Categorical, key: str) -> _Dim:
    """Distinct values with positive prior mass, in first-occurrence order."""
    if isinstance(spec, CategoricalWithProbabilities):
        probs = list(spec.probabilities)
    else:
        probs = [1.0 / len(spec.values)] * len(spec.values)
    order: list[Any] = []
    mass: dict[Any, float] = {}
    first: dict[Any, Any] = {}
    for value, p in zip(spec.values, probs, strict=True):
        k = canonical(value)
        if k not in mass:
            order.append(k)
            first[k] = value
            mass[k] = 0.0
        mass[k] += p
    kept = [k for k in order if mass[k] > 0]
    total = math.fsum(mass[k] for k in kept)
    values = tuple(first[k] for k in kept)
    weights = tuple(mass[k] / total for k in kept)
    kind = "categorical" if len(values) > 1 else "fixed"
    return _Dim(path, spec, kind, key, values, weights)


def _log_ei(
    mean: np.ndarray, std: np.ndarray, best: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log expected improvement over ``best`` of a maximised GP, and its derivatives.

    EI = std * h(z) with z = (mean - best) / std and h(z) = phi(z) + z Phi(z). Below z = -1
    the naive h(z) loses precision and soon underflows although its log is finite, and late
    in a search most candidates live there; with Mills' ratio m(z) = Phi(z) / phi(z), computed
    stably by ``erfcx``, h(z) = phi(z) * (1 + z m(z)).

    Returns:
        ``(log EI, d log EI / d mean, d log EI / d std)``.
    """
    std = np.maximum(std, 1e-12)
    z = np.maximum((mean - best) / std, -1e4)
    log_phi = -0.5 * z**2 - 0.5 * math.log(2 * math.pi)
    log_h = np.empty_like(z)
    r_cdf = np.empty_like(z)  # Phi(z) / h(z)
    r_pdf = np.empty_like(z)  # phi(z) / h(z)
    hi = z > -1.0
    zh = z[hi]
    pdf, cdf = np.exp(log_phi[hi]), ndtr(zh)
    h = pdf + zh * cdf
    log_h[hi] = np.log(h)
    r_cdf[hi], r_pdf[hi] = cdf / h, pdf / h
    zl = z[~hi]
    mills = math.sqrt(math.pi / 2) * erfcx(-zl / math.sqrt(2))
    q = np.maximum(1.0 + zl * mills, 1e-300)  # h / phi
    log_h[~hi] = log_phi[~hi] + np.log(q)
    r_cdf[~hi], r_pdf[~hi] = mills / q, 1.0 / q
    return log_h + np.log(std), r_cdf / std, r_pdf / std


def _logmeanexp(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log of the mean of exp(a) over the last axis, and the softmax weights (its gradient)."""
    top = a.max(axis=1, keepdims=True)
    e = np.exp(a - top)
    total = e.sum(axis=1, keepdims=True)
    return (np.log(total / a.shape[1]) + top)[:, 0], e / total


class _Posterior:
    """The GP's latent posterior and its gradient, read from a fitted sklearn regressor.

    sklearn's ``predict`` has no gradient and adds the noise term to the variance; optimising
    the acquisition needs both the gradient and the noise-free variance. The kernel is
    ``amplitude * Matern52(ARD) + White`` on exact (unit, one-hot) inputs.
    """

    def __init__(self, gp: Any) -> None:
        kernel = gp.kernel_
        self.amp = float(kernel.k1.k1.constant_value)
        self.X = np.asarray(gp.X_train_, dtype=float)
        # sklearn squeezes a one-element length-scale array to a scalar.
        ls = np.broadcast_to(np.asarray(kernel.k1.k2.length_scale, dtype=float), self.X.shape[1:])
        self.inv_ls2 = 1.0 / ls**2
        self.alpha = np.asarray(gp.alpha_, dtype=float).ravel()
        self.L = np.asarray(gp.L_, dtype=float)
        # L^-1 once: the acquisition is evaluated ~100 times per proposal on a few rows, where
        # two matrix products cost far less than two triangular solves' call overhead.
        self.L_inv = solve_triangular(self.L, np.eye(len(self.L)), lower=True, check_finite=False)
        self._scale = np.sqrt(self.inv_ls2)
        self._Xs = self.X * self._scale
        self._Xs_sq = np.sum(self._Xs**2, axis=1)
        self._base = self._weights(self.alpha[:, None])
        self._fantasy: tuple[np.ndarray, np.ndarray] | None = None

    def _weights(self, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``alpha`` (n, F) and ``alpha[n, f] * X[n, :]`` as (n, F * d), for the gradients."""
        return alpha, (alpha[:, :, None] * self.X[:, None, :]).reshape(len(alpha), -1)

    def fantasise(self, targets: np.ndarray) -> None:
        """Use several target vectors at once (n, F): F posteriors that share their
        covariance, since only the values at the (pending) inputs differ, not the inputs."""
        self._fantasy = self._weights(self.L_inv.T @ (self.L_inv @ targets))

    @property
    def fantasised(self) -> bool:
        """Whether :meth:`fantasise` was called (the acquisition then averages over them)."""
        return self._fantasy is not None

    def __call__(
        self, x: np.ndarray, grad: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Mean and std at the rows of ``x`` (and their gradients when ``grad``)."""
        mean, std, dmean, dstd = self._moments(x, *self._base, grad)
        return mean[:, 0], std, None if dmean is None else dmean[:, 0, :], dstd

    def fantasies(
        self, x: np.ndarray, grad: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Like ``__call__`` for every fantasy: mean (m, F), std (m,), dmean (m, F, d)."""
        if self._fantasy is None:
            raise ValueError("fantasise() must be called before fantasies()")
        return self._moments(x, *self._fantasy, grad)

    def _moments(
        self, x: np.ndarray, alpha: np.ndarray, alpha_x: np.ndarray, grad: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        # Matrix products only, no (m, n, d) difference tensor or einsum over three axes: the
        # screening step evaluates ~800 rows against up to _MAX_POINTS in up to dozens of
        # dims, and L-BFGS-B ~100 times a few rows.
        xs = x * self._scale
        r2 = np.sum(xs**2, axis=1)[:, None] + self._Xs_sq[None, :] - 2.0 * xs @ self._Xs.T
        r = np.sqrt(np.maximum(r2, 0.0))
        s5r = math.sqrt(5.0) * r
        e = np.exp(-s5r)
        k = self.amp * (1.0 + s5r + 5.0 / 3.0 * r**2) * e
        mean = k @ alpha  # (m, F)
        v = self.L_inv @ k.T
        var = np.maximum(self.amp - np.sum(v * v, axis=0), 1e-12)
        std = np.sqrt(var)
        if not grad:
            return mean, std, None, None
        # dk/dx = -5/3 amp (1 + sqrt5 r) exp(-sqrt5 r) * (x - X) / ls^2, and
        # sum_n c_n (x - X_n) = x sum_n c_n - c @ X.
        coef = -5.0 / 3.0 * self.amp * (1.0 + s5r) * e  # (m, n)
        m, d = x.shape
        dmean = (coef @ alpha)[:, :, None] * x[:, None, :]
        dmean = (dmean - (coef @ alpha_x).reshape(m, -1, d)) * self.inv_ls2  # (m, F, d)
        cw = coef * (self.L_inv.T @ v).T  # coef * K^-1 k
        dvar = -2.0 * (x * cw.sum(axis=1)[:, None] - cw @ self.X) * self.inv_ls2
        return mean, std, dmean, dvar / (2.0 * std[:, None])


class _LogExpectedImprovement(acquisition.AcquisitionFunction):
    """bayes_opt acquisition returning log EI (for ranking candidates; maximised)."""

    def __init__(self) -> None:
        super().__init__()
        self.y_max: float | None = None

    def base_acq(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        if self.y_max is None:
            raise ValueError("`y_max` must be set before the acquisition is evaluated")
        return _log_ei(mean, std, self.y_max)[0]

    def get_acquisition_params(self) -> dict[str, Any]:
        return {"y_max": self.y_max}

    def set_acquisition_params(self, params: dict[str, Any]) -> None:
        self.y_max = params["y_max"]


class BayesProposer:
    """Gaussian-process Bayesian optimisation over a W&B search space.

    Args:
        space: The search space; it needs at least one parameter that is not a constant.
        seed: Seed of every random choice; None draws fresh entropy (kept in the state, so a
            restored search continues identically either way).
        metric: The sweep's metric; only ``impute`` and ``impute_while_running`` are read
            (losses arrive already sign-adjusted). None means ``impute: worst``.
        n_initial: Number of proposals from the space-filling initial design before the GP
            takes over; default ``max(5, 2 * d)`` for ``d`` searchable parameters.

    Raises:
        ValueError: if the space has no searchable parameter or ``n_initial`` is negative.

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "bayes", "metric": {"name": "loss"},
    ...                  "parameters": {"x": {"min": -2.0, "max": 2.0}}})
    >>> bo = BayesProposer(cfg.parameters, seed=0, metric=cfg.metric)
    >>> for _ in range(12):
    ...     config = bo.propose()
    ...     bo.observe(config, (config[("x",)] - 0.5) ** 2)
    >>> abs(bo.best()[0][("x",)] - 0.5) < 0.05
    True
    """

    # Search state, (re)set by _reset.
    _design: np.ndarray | None  # Sobol points in the prior's unit cube, cached
    _obs: list[tuple[tuple[Any, ...], float | None]]  # (raw params, loss or None)
    _obs_x: list[np.ndarray]  # unit vectors of _obs, cached
    _pending: dict[tuple[Any, ...], tuple[Any, ...]]  # key -> raw params
    _seen: set[tuple[Any, ...]]  # keys of every proposed or observed configuration
    _theta: np.ndarray | None  # the GP's fitted log-hyper-parameters
    _post: _Posterior
    _fantasy_best: np.ndarray  # each fantasy's incumbent, while trials are pending

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int | None = None,
        metric: Metric | None = None,
        n_initial: int | None = None,
    ) -> None:
        if not space.searchable:
            raise ValueError(
                "bayes search needs at least one parameter that is not a constant, but the "
                f"space has only constants: {[p for p, _ in space]}"
            )
        if n_initial is not None and n_initial < 0:
            raise ValueError(f"`n_initial >= 0` must hold, but got n_initial={n_initial}")
        self._space = space
        self._constants = space.constants()
        self._dims = tuple(self._make_dim(i, p, s) for i, (p, s) in enumerate(space.searchable))
        self._n_initial = max(5, 2 * len(self._dims)) if n_initial is None else n_initial
        # metric.impute needs no field: every mode imputes the worst loss (module docstring).
        self._lie_worst = bool(getattr(metric, "impute_while_running", False))

        self._acq = _LogExpectedImprovement()
        self._opt = self._make_optimizer()
        tspace = self._opt.space
        self._width = tspace.dim
        self._cols = {
            d.key: np.flatnonzero(tspace.masks[d.key]) for d in self._dims if d.kind != "fixed"
        }
        self._cont_cols = np.concatenate(
            [self._cols[d.key] for d in self._dims if d.kind in ("float", "int")]
            or [np.empty(0, dtype=int)]
        ).astype(int)

        self._reset(seed)

    @property
    def n_initial(self) -> int:
        """How many proposals come from the space-filling design before the model's."""
        return self._n_initial

    # ----------------------------------------------------------------------------------------
    # Proposer protocol
    # ----------------------------------------------------------------------------------------

    def propose(self) -> FlatConfig | None:
        """Return the next configuration, or None once a finite space is used up.

        The first ``n_initial`` proposals (and every proposal until two trials have a finite
        loss) come from a scrambled Sobol design drawn from the priors; then each maximises
        log expected improvement under the GP, with pending proposals told a constant lie.
        """
        finite = sum(1 for _, loss in self._obs if loss is not None)
        in_design = self._n_design < self._n_initial and len(self._obs) < self._n_initial
        if in_design or finite < 2 or not self._cont_and_cat_width():
            raw = self._next_design_point()
        else:
            with _THREADPOOLS.limit(limits=1, user_api="blas"):
                raw = self._next_model_point()
        if raw is None:
            return None
        config = self._config_of(raw)
        key = self._space.key(config)
        self._seen.add(key)
        self._pending[key] = raw
        return config

    def observe(self, config: FlatConfig, loss: float | None) -> None:
        """Record a finished trial (``loss`` None, NaN or inf for a failed one).

        A configuration this proposer could not have produced (a value outside the space)
        is ignored by the model.
        """
        key = self._space.key(config)
        self._pending.pop(key, None)
        raw = self._encode(config)
        if raw is None:
            return
        self._seen.add(key)
        value = None if loss is None else float(loss)
        if value is not None and not math.isfinite(value):
            value = None
        self._obs.append((raw, value))
        self._obs_x.append(self._unit(raw))

    def get_state(self) -> dict[str, Any]:
        """Return a JSON-compatible snapshot: observations as ``[params, loss]`` (a float or
        int per numeric parameter, an index per categorical), pending proposals, the random
        generator, the design position and the GP's hyper-parameters."""
        return {
            "version": _STATE_VERSION,
            "seed": self._seed,
            "rng": self._rng.bit_generator.state,
            "n_design": self._n_design,
            "observations": [[list(raw), loss] for raw, loss in self._obs],
            "pending": [list(raw) for raw in self._pending.values()],
            "theta": None if self._theta is None else [float(t) for t in self._theta],
            "theta_n": self._theta_n,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`get_state`'s output (possibly after a JSON round trip) on an
        instance built from the same space.

        Raises:
            ValueError: if the state is from another version or another space.
        """
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"bayes state version must be {_STATE_VERSION}, but got {state.get('version')!r}"
            )
        width = len(self._dims)
        rows = [r for r, _ in state["observations"]] + list(state["pending"])
        if any(len(r) != width for r in rows):
            raise ValueError(
                f"bayes state does not fit this space: every entry must have {width} "
                "parameters"
            )
        self._reset(int(state["seed"]))
        self._rng.bit_generator.state = state["rng"]
        self._n_design = int(state["n_design"])
        for raw, loss in state["observations"]:
            self._obs.append((tuple(raw), None if loss is None else float(loss)))
            self._obs_x.append(self._unit(raw))
            self._seen.add(self._space.key(self._config_of(tuple(raw))))
        for raw in state["pending"]:
            config = self._config_of(tuple(raw))
            key = self._space.key(config)
            self._seen.add(key)
            self._pending[key] = tuple(raw)
        theta = state.get("theta")
        self._theta = None if theta is None else np.asarray(theta, dtype=float)
        self._theta_n = int(state.get("theta_n", 0))

    # ----------------------------------------------------------------------------------------
    # Extras
    # ----------------------------------------------------------------------------------------

    def best(self) -> tuple[FlatConfig, float] | None:
        """The observed configuration with the lowest finite loss, or None."""
        finite = [(loss, i) for i, (_, loss) in enumerate(self._obs) if loss is not None]
        if not finite:
            return None
        loss, i = min(finite)
        return self._config_of(self._obs[i][0]), loss

    # ----------------------------------------------------------------------------------------
    # Setup
    # ----------------------------------------------------------------------------------------

    @staticmethod
    def _make_dim(i: int, path: ParamPath, spec: ParamSpec) -> _Dim:
        key = f"p{i}"
        if isinstance(spec, Categorical):
            return _categorical_dim(path, spec, key)
        if isinstance(spec, IntUniform):
            return _Dim(path, spec, "int" if spec.max > spec.min else "fixed", key)
        if spec.kind == "float":
            return _Dim(path, spec, "float", key)
        raise ValueError(
            f"bayes search models float, int and categorical parameters, but {path!r} is "
            f"of kind {spec.kind!r}"
        )

    def _make_optimizer(self) -> BayesianOptimization:
        pbounds: dict[str, Any] = {}
        for d in self._dims:
            if d.kind in ("float", "int"):
                pbounds[d.key] = (0.0, 1.0)
            elif d.kind == "categorical":
                # Labels are indices: values may be unhashable, and bayes_opt compares labels.
                # Passed as a parameter object: a bare [0, 1] would read as float bounds.
                pbounds[d.key] = CategoricalParameter(d.key, list(range(len(d.values))))
        if not pbounds:
            # Only single-valued parameters: a one-point space. A dummy axis keeps bayes_opt
            # happy; the proposer never consults the model for it.
            pbounds["_"] = (0.0, 1.0)
        with warnings.catch_warnings():
            # "Non-float parameters are experimental": we only use their encoding.
            warnings.simplefilter("ignore", UserWarning)
            opt = BayesianOptimization(
                f=None,
                pbounds=pbounds,
                acquisition_function=self._acq,
                random_state=0,
                verbose=0,
                allow_duplicate_points=True,
            )
        return opt

    def _reset(self, seed: int | None) -> None:
        if seed is None:
            seed = int(np.random.default_rng().integers(2**63))
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        self._n_design = 0
        self._design = None
        self._obs = []
        self._obs_x = []
        self._pending = {}
        self._seen = set()
        self._theta = None
        self._theta_n = 0
        self._fit_from_default = True

    def _cont_and_cat_width(self) -> int:
        return sum(1 for d in self._dims if d.kind != "fixed")

    # ----------------------------------------------------------------------------------------
    # Encoding: config <-> raw (JSON-friendly) <-> unit vector (bayes_opt's array layout)
    # ----------------------------------------------------------------------------------------

    def _encode(self, config: Mapping[ParamPath, Any]) -> tuple[Any, ...] | None:
        raw: list[Any] = []
        for d in self._dims:
            if d.path not in config:
                return None
            value = config[d.path]
            if d.kind in ("categorical", "fixed") and isinstance(d.spec, Categorical):
                k = canonical(value)
                idx = next((i for i, v in enumerate(d.values) if canonical(v) == k), None)
                if idx is None:
                    return None
                raw.append(idx)
            elif d.kind == "fixed":
                raw.append(0)
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    return None
                if not math.isfinite(value):
                    return None
                raw.append(value)
        return tuple(raw)

    def _config_of(self, raw: Sequence[Any]) -> FlatConfig:
        flat: dict[ParamPath, Any] = dict(self._constants)
        for d, r in zip(self._dims, raw, strict=True):
            if isinstance(d.spec, Categorical):
                flat[d.path] = d.values[int(r)]
            elif d.kind == "fixed":
                flat[d.path] = d.spec.min  # type: ignore[attr-defined]
            else:
                flat[d.path] = r
        return {p: flat[p] for p in self._space.paths}

    def _unit(self, raw: Sequence[Any]) -> np.ndarray:
        x = np.zeros(self._width)
        for d, r in zip(self._dims, raw, strict=True):
            if d.kind in ("float", "int"):
                cols = self._cols[d.key]
                x[cols[0]] = d.spec.to_unit(r)  # type: ignore[attr-defined]
            elif d.kind == "categorical":
                x[self._cols[d.key][int(r)]] = 1.0
        return x

    def _raw_of_unit(self, x: np.ndarray) -> tuple[Any, ...]:
        raw: list[Any] = []
        for d in self._dims:
            if d.kind in ("float", "int"):
                raw.append(d.spec.from_unit(float(x[self._cols[d.key][0]])))  # type: ignore[attr-defined]
            elif d.kind == "categorical":
                raw.append(int(np.argmax(x[self._cols[d.key]])))
            else:
                raw.append(0)
        return tuple(raw)

    def _snap(self, X: np.ndarray) -> np.ndarray:
        """Move candidates onto values that can actually run (ints, quantised floats)."""
        for d in self._dims:
            if d.kind == "int":
                c = self._cols[d.key][0]
                n = d.spec.max - d.spec.min + 1  # type: ignore[attr-defined]
                k = np.clip(np.floor(X[:, c] * n), 0, n - 1)
                X[:, c] = (k + 0.5) / n
            elif d.kind == "float" and getattr(d.spec, "step", None) is not None:
                c = self._cols[d.key][0]
                spec = d.spec
                X[:, c] = [spec.to_unit(spec.from_unit(u)) for u in X[:, c]]  # type: ignore[attr-defined]
        return X

    # ----------------------------------------------------------------------------------------
    # Initial design
    # ----------------------------------------------------------------------------------------

    def _design_point(self, i: int) -> tuple[Any, ...]:
        """The i-th point of the scrambled Sobol sequence, mapped through the priors."""
        if self._design is None or i >= len(self._design):
            m = max(4, math.ceil(math.log2(i + 1)) + 1)
            sobol = qmc.Sobol(len(self._dims), scramble=True, seed=self._seed)
            # The sequence is extensible: a longer draw starts with the shorter one.
            self._design = sobol.random_base2(m)
        u = self._design[i]
        raw: list[Any] = []
        for d, ui in zip(self._dims, u, strict=True):
            if d.kind in ("float", "int"):
                raw.append(d.spec.from_unit(float(ui)))  # type: ignore[attr-defined]
            elif d.kind == "categorical":
                cum = np.cumsum(d.weights)
                raw.append(int(min(np.searchsorted(cum, ui, side="right"), len(d.values) - 1)))
            else:
                raw.append(0)
        return tuple(raw)

    def _next_design_point(self) -> tuple[Any, ...] | None:
        # Skip design points that repeat a configuration (small discrete spaces).
        for _ in range(64):
            raw = self._design_point(self._n_design)
            self._n_design += 1
            if not self._is_seen(raw):
                return raw
        return self._fallback(None, use_model=False)

    # ----------------------------------------------------------------------------------------
    # Model
    # ----------------------------------------------------------------------------------------

    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit-space X and losses y (failures imputed), capped at _MAX_POINTS rows."""
        finite = [loss for _, loss in self._obs if loss is not None]
        # Every impute mode falls back to the worst finite loss: see the module docstring.
        fill = max(finite)
        y = np.array([fill if loss is None else loss for _, loss in self._obs], dtype=float)
        X = np.array(self._obs_x)
        if len(y) > _MAX_POINTS:
            order = np.argsort(y, kind="stable")
            keep = set(order[:_KEEP_BEST].tolist())
            recent = [i for i in range(len(y) - 1, -1, -1) if i not in keep]
            keep.update(recent[: _MAX_POINTS - _KEEP_BEST])
            idx = np.array(sorted(keep))
            X, y = X[idx], y[idx]
        return X, y

    @staticmethod
    def _transform_y(y: np.ndarray) -> np.ndarray:
        """Targets for the GP, to *maximise* (bayes_opt's convention): warped minus losses.

        Standardised, then a Yeo-Johnson power transform fitted by maximum likelihood, but
        only ever one that compresses the *bad* tail (lambda >= 1). Losses of real searches
        are often heavy-tailed (diverged runs, Rosenbrock-like valleys): standardising alone
        lets a few huge losses flatten everything else, and the GP then sees no structure
        near the optimum (benchmark: 5-20x lower regret on Rosenbrock and Levy with the
        warp). A transform that also compressed the *good* tail (a free lambda, or ranks)
        blurred the optimum of Hartmann-6 instead.
        """
        t = -np.asarray(y, dtype=float)
        sd = float(np.std(t))
        if sd <= 0:
            return np.zeros_like(t)
        t = (t - float(np.mean(t))) / sd
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # A lambda search that overflows is caught by the finiteness check below.
            warnings.simplefilter("ignore", RuntimeWarning)
            lam = max(1.0, float(yeojohnson_normmax(t)))
            warped = yeojohnson(t, lmbda=lam)
        if np.all(np.isfinite(warped)) and float(np.std(warped)) > 0:
            t = warped
        return (t - float(np.mean(t))) / float(np.std(t))

    def _kernel(self, theta: np.ndarray | None) -> Any:
        n = self._width
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            length_scale=np.full(n, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
        ) + WhiteKernel(1e-4, (1e-6, 1e-1))
        if theta is not None:
            kernel = kernel.clone_with_theta(theta)
        return kernel

    @staticmethod
    def _log_prior(theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Log prior (up to a constant) and its gradient, over the kernel's log-parameters
        ``theta = [log amplitude, log length scales..., log noise]``.

        With a few dozen points, maximum likelihood readily picks length scales that make
        the GP interpolate wildly, or a noise of exactly zero. Weak priors (the ones Optuna's
        GP sampler uses too) keep it sane; MAP beat MLE on Hartmann-6 and the mixed problem:

        - length scale l: ``-(0.1 l^2 + 0.1 / l^2)``, peaked at 1 in unit space, steep
          below 0.2;
        - amplitude s: Gamma(2, 1), mode 1 (targets are standardised);
        - noise variance v: Gamma(1.1, 30), mode 0.003, which lets the data push it down.
        """
        grad = np.zeros_like(theta)
        a, ls, nz = theta[0], theta[1:-1], theta[-1]
        lp = a - math.exp(a)
        grad[0] = 1.0 - math.exp(a)
        lp += float(-np.sum(0.1 * np.exp(2 * ls) + 0.1 * np.exp(-2 * ls)))
        grad[1:-1] = -(0.2 * np.exp(2 * ls) - 0.2 * np.exp(-2 * ls))
        lp += 0.1 * nz - 30.0 * math.exp(nz)
        grad[-1] = 0.1 - 30.0 * math.exp(nz)
        return lp, grad

    def _fit_hyper(
        self, obj_func: Callable[..., Any], initial_theta: np.ndarray, bounds: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """sklearn GP optimizer: MAP estimate with L-BFGS-B from a few starts."""

        def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
            nll, ngrad = obj_func(theta, eval_gradient=True)
            lp, lgrad = self._log_prior(theta)
            return float(nll - lp), ngrad - lgrad

        starts = [np.asarray(initial_theta, dtype=float)]
        default = self._kernel(None).theta
        if self._fit_from_default and not np.allclose(starts[0], default):
            # A second start guards against a poor local optimum while fits are cheap.
            starts.append(default)
        results = [
            minimize(f, np.clip(x0, bounds[:, 0], bounds[:, 1]), jac=True, bounds=bounds,
                     method="L-BFGS-B", options={"maxiter": 100, "gtol": 1e-3})
            for x0 in starts
        ]
        res = min(results, key=lambda r: float(r.fun))
        return res.x, float(res.fun)

    @staticmethod
    def _fit_subset(y: np.ndarray) -> np.ndarray:
        """Rows the hyper-parameters are fitted on: all, or the best and the most recent.

        The marginal likelihood costs O(n^3) per step; hyper-parameters barely change
        beyond ~100 points, while the GP itself is then conditioned on every row.
        """
        n = len(y)
        if n <= _FIT_POINTS:
            return np.arange(n)
        best = np.argsort(-y, kind="stable")[: _FIT_POINTS // 3]  # y is maximised
        taken = set(best.tolist())
        rest = [i for i in range(n - 1, -1, -1) if i not in taken]
        return np.sort(np.concatenate([best, rest[: _FIT_POINTS - len(best)]]).astype(int))

    def _fit_gp(self, X: np.ndarray, y: np.ndarray, Xp: np.ndarray) -> np.ndarray | None:
        """Fit hyper-parameters when due, then condition the GP on the data and the pending
        points ``Xp``.

        Returns:
            Draws of the pending points' targets, shape ``(len(Xp), _N_FANTASIES)``, or None
            when nothing is pending (or with ``impute_while_running``: a constant lie).
        """
        gp = self._opt._gp
        n = len(y)
        due = (
            self._theta is None
            or n <= _ALWAYS_FIT_UNTIL
            or n >= self._theta_n * (1 + _REFIT_GROWTH)
        )
        due = due and n != self._theta_n
        self._fit_from_default = n <= _ALWAYS_FIT_UNTIL
        fitted = False
        with warnings.catch_warnings():
            # sklearn warns when a hyper-parameter sits at its bound; that is expected here
            # (e.g. the noise of a deterministic objective).
            warnings.simplefilter("ignore")
            if due:
                self._opt.set_gp_params(
                    kernel=self._kernel(self._theta), alpha=1e-8, normalize_y=False,
                    optimizer=self._fit_hyper, n_restarts_optimizer=0,
                )
                sub = self._fit_subset(y)
                try:
                    gp.fit(X[sub], y[sub])
                except (LinAlgError, ValueError):
                    pass  # keep the previous hyper-parameters; conditioning below
                else:
                    self._theta = np.asarray(gp.kernel_.theta, dtype=float)
                    self._theta_n = n
                    fitted = len(sub) == n
            if self._lie_worst and len(Xp):
                # impute_while_running: pending points are told the worst loss seen.
                self._condition(np.vstack([X, Xp]),
                                np.concatenate([y, np.full(len(Xp), float(np.min(y)))]))
                return None
            if not fitted:
                self._condition(X, y)
            if not len(Xp):
                return None
            # Fantasies: joint draws of what the pending trials may report, from the GP of the
            # data. Each proposal is then judged by its EI averaged over these outcomes, so a
            # point near a pending one gains little, however good that region looks. The
            # GP conditioned on data plus pending points is the same for every draw but for
            # its mean (see _Posterior.fantasise).
            mean_p, cov = gp.predict(Xp, return_cov=True)
            cov = 0.5 * (cov + cov.T) + 1e-9 * np.eye(len(Xp))
            try:
                chol = np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                chol = np.diag(np.sqrt(np.maximum(np.diag(cov), 0.0)))
            noise = self._rng.standard_normal((len(Xp), _N_FANTASIES))
            draws: np.ndarray = mean_p[:, None] + chol @ noise
            self._condition(np.vstack([X, Xp]), np.concatenate([y, mean_p]))
        return draws

    def _condition(self, X: np.ndarray, y: np.ndarray) -> None:
        """Condition the GP on (X, y) with the current hyper-parameters (one Cholesky)."""
        self._opt.set_gp_params(
            kernel=self._kernel(self._theta), alpha=1e-8, normalize_y=False, optimizer=None
        )
        self._opt._gp.fit(X, y)

    def _acquisition(self, X: np.ndarray) -> np.ndarray:
        """log EI at the rows of X (exact encodings)."""
        return self._log_ei(X, grad=False)[0]

    def _acquisition_grad(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value, grad = self._log_ei(X, grad=True)
        assert grad is not None  # asked for with grad=True
        return value, grad

    def _log_ei(self, X: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """log EI (and its gradient); with trials pending, the log of the EI averaged over
        the fantasies of their outcomes, each against its own incumbent."""
        if not self._post.fantasised:
            assert self._acq.y_max is not None  # set before the acquisition is optimised
            mean, std, dmean, dstd = self._post(X, grad)
            value, d_mean, d_std = _log_ei(mean, std, self._acq.y_max)
            if dmean is None or dstd is None:
                return value, None
            return value, d_mean[:, None] * dmean + d_std[:, None] * dstd
        fmean, std, fdmean, dstd = self._post.fantasies(X, grad)
        fstd = np.repeat(std[:, None], fmean.shape[1], axis=1)
        fvalue, d_mean, d_std = _log_ei(fmean, fstd, self._fantasy_best)
        value, weights = _logmeanexp(fvalue)
        if fdmean is None or dstd is None:
            return value, None
        g = np.einsum("mf,mfd->md", weights * d_mean, fdmean)
        return value, g + (weights * d_std).sum(axis=1)[:, None] * dstd

    def _random_rows(self, n: int) -> np.ndarray:
        X = self._rng.random((n, self._width))
        for d in self._dims:
            if d.kind == "categorical":
                cols = self._cols[d.key]
                X[:, cols] = 0.0
                X[np.arange(n), cols[self._rng.integers(len(cols), size=n)]] = 1.0
        return X

    def _around(self, x: np.ndarray, n: int, scale: float | np.ndarray) -> np.ndarray:
        X = np.tile(x, (n, 1))
        cc = self._cont_cols
        if len(cc):
            X[:, cc] = np.clip(X[:, cc] + self._rng.normal(0.0, 1.0, (n, len(cc))) * scale, 0, 1)
        cats = [d for d in self._dims if d.kind == "categorical"]
        if cats:
            flip = 1.0 / max(1, len(self._dims))
            for d in cats:
                cols = self._cols[d.key]
                rows = np.flatnonzero(self._rng.random(n) < flip)
                X[np.ix_(rows, cols)] = 0.0
                X[rows, cols[self._rng.integers(len(cols), size=len(rows))]] = 1.0
        return X

    def _next_model_point(self) -> tuple[Any, ...] | None:
        X, y = self._training_data()
        t = self._transform_y(y)
        Xp = np.array([self._unit(raw) for raw in self._pending.values()]).reshape(
            -1, self._width
        )
        draws = self._fit_gp(X, t, Xp)
        self._post = _Posterior(self._opt._gp)
        self._acq.y_max = float(np.max(t))
        if draws is not None:
            self._post.fantasise(np.vstack([np.tile(t[:, None], (1, draws.shape[1])), draws]))
            # Each fantasy's incumbent includes its own draws (Snoek et al., 2012).
            self._fantasy_best = np.maximum(self._acq.y_max, draws.max(axis=0))

        # Screen: uniform candidates for exploration, local ones around the best observations.
        parts = [self._random_rows(_N_RANDOM)]
        scales = self._rng.choice([0.2, 0.05, 0.01], size=(_N_LOCAL, 1))
        for i in np.argsort(-t, kind="stable")[:_TOP_OBSERVED]:
            parts.append(self._around(X[i], _N_LOCAL, scales))
        C = self._snap(np.vstack(parts))
        a = self._acquisition(C)

        # Local optimisation from the incumbent, the best candidates and a few more drawn
        # with probability proportional to EI (diversity: the best ones often share a mode).
        order = np.argsort(-a, kind="stable")
        chosen = list(order[:_N_TOP_STARTS])
        rest = order[_N_TOP_STARTS:]
        weights = np.exp(a[rest] - a[rest].max())
        if len(rest) and weights.sum() > 0:
            k = min(_N_ROULETTE_STARTS, int(np.count_nonzero(weights)))
            p = weights / weights.sum()
            chosen += list(self._rng.choice(rest, size=k, replace=False, p=p))
        starts = np.vstack([X[int(np.argmax(t))][None, :], C[chosen]])
        S = self._local_search(starts)
        C = np.vstack([C, S])
        a = np.concatenate([a, self._acquisition(S)])

        known = np.vstack([X, Xp]) if len(Xp) else X
        fallback: tuple[Any, ...] | None = None
        for i in np.argsort(-a, kind="stable"):
            raw = self._raw_of_unit(C[i])
            if self._is_seen(raw):
                continue
            d2 = np.min(np.sum((known - C[i]) ** 2 * self._post.inv_ls2, axis=1))
            if d2 >= _MIN_DIST**2:
                return raw
            if fallback is None:
                fallback = raw
        if fallback is not None:
            return fallback
        return self._fallback(C[int(np.argmax(a))], use_model=True)

    def _local_search(self, starts: np.ndarray) -> np.ndarray:
        """Climb log EI from each start: L-BFGS-B on the numeric columns (ints relaxed), then
        snap, then try the nearby ints and every category, then L-BFGS-B on the floats."""
        Z = self._lbfgs(starts.copy(), self._cont_cols)
        Z = self._snap(Z)
        changed = self._discrete_sweep(Z)
        float_cols = np.array(
            [self._cols[d.key][0] for d in self._dims if d.kind == "float"], dtype=int
        )
        if changed and len(float_cols):
            Z = self._snap(self._lbfgs(Z, float_cols))
        return Z

    def _lbfgs(self, Z: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if not len(cols):
            return Z
        n = len(Z)

        def f(v: np.ndarray) -> tuple[float, np.ndarray]:
            Z[:, cols] = v.reshape(n, len(cols))
            value, grad = self._acquisition_grad(Z)
            # The starts are independent, so the sum's gradient is each start's own gradient.
            return -float(value.sum()), -grad[:, cols].ravel()

        before = self._acquisition(Z)
        x0 = Z[:, cols].copy()
        # One L-BFGS-B run on the sum over starts (as BoTorch does): the starts are
        # independent, so the gradient is exact, and one vectorised evaluation serves all.
        res = minimize(f, x0.ravel(), jac=True, bounds=[(0.0, 1.0)] * x0.size,
                       method="L-BFGS-B", options={"maxiter": _LBFGS_ITERS})
        Z[:, cols] = np.clip(res.x, 0.0, 1.0).reshape(n, len(cols))
        # The shared line search may trade one start's value for another's: keep the better.
        worse = self._acquisition(Z) < before
        Z[np.ix_(worse, cols)] = x0[worse]
        return Z

    def _discrete_sweep(self, Z: np.ndarray) -> bool:
        """One pass of coordinate search over ints (+-2 steps) and categories, in place."""
        changed = False
        current = self._acquisition(Z)
        rows = np.arange(len(Z))
        for d in self._dims:
            if d.kind not in ("categorical", "int"):
                continue
            cols = self._cols[d.key]
            if d.kind == "categorical":
                options = np.eye(len(cols))
                V = np.repeat(Z, len(options), axis=0)
                V[:, cols] = np.tile(options, (len(Z), 1))
                per_row = len(options)
            else:
                n_int = d.spec.max - d.spec.min + 1  # type: ignore[attr-defined]
                k = np.clip(np.floor(Z[:, cols[0]] * n_int), 0, n_int - 1)
                steps = np.arange(-2, 3)
                per_row = len(steps)
                V = np.repeat(Z, per_row, axis=0)
                kk = np.clip(np.repeat(k, per_row) + np.tile(steps, len(Z)), 0, n_int - 1)
                V[:, cols[0]] = (kk + 0.5) / n_int
            av = self._acquisition(V).reshape(len(Z), per_row)
            j = np.argmax(av, axis=1)
            better = av[rows, j] > current + 1e-12
            if better.any():
                pick = rows[better] * per_row + j[better]
                Z[better] = V[pick]
                current[better] = av[rows[better], j[better]]
                changed = True
        return changed

    # ----------------------------------------------------------------------------------------
    # Exhaustion
    # ----------------------------------------------------------------------------------------

    def _finite_size(self) -> int | None:
        size = 1
        for d in self._dims:
            if d.kind == "categorical":
                size *= len(d.values)
            elif d.kind == "int":
                size *= d.spec.max - d.spec.min + 1  # type: ignore[attr-defined]
            elif d.kind == "float":
                return None
        return size

    def _fallback(self, best: np.ndarray | None, *, use_model: bool) -> tuple[Any, ...] | None:
        """Every preferred candidate repeats: find an unseen configuration, or give up.

        A finite space ends (None) only once every configuration is used; a continuous one
        never ends and repeats the best candidate instead (module docstring).
        """
        size = self._finite_size()
        if size is not None and size <= _MAX_ENUMERATE:
            unseen = [raw for raw in self._all_raw() if not self._is_seen(raw)]
            if not unseen:
                return None
            if not use_model or len(unseen) == 1:
                return unseen[int(self._rng.integers(len(unseen)))]
            U = np.array([self._unit(raw) for raw in unseen])
            return unseen[int(np.argmax(self._acquisition(U)))]
        for _ in range(_MAX_REPEAT_DRAWS):
            raw = self._raw_of_unit(self._snap(self._random_rows(1))[0])
            if not self._is_seen(raw):
                return raw
        if size is not None:
            # Too large to enumerate up front, and nearly used up (so at least as many trials
            # ran as the scan below costs): the first unseen configuration in order.
            return next((raw for raw in self._all_raw() if not self._is_seen(raw)), None)
        x = best if best is not None else self._snap(self._random_rows(1))[0]
        return self._raw_of_unit(x)

    def _is_seen(self, raw: Sequence[Any]) -> bool:
        return self._space.key(self._config_of(raw)) in self._seen

    def _all_raw(self) -> Iterator[tuple[Any, ...]]:
        """Every configuration of a finite space, lazily, as raw tuples."""
        axes: list[Sequence[Any]] = []
        for d in self._dims:
            if d.kind == "categorical":
                axes.append(range(len(d.values)))
            elif d.kind == "int":
                axes.append(range(d.spec.min, d.spec.max + 1))  # type: ignore[attr-defined]
            else:
                axes.append([0])
        return (tuple(c) for c in product(*axes))
