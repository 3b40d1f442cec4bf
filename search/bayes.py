"""Bayesian optimisation (``method: bayes``): a Gaussian-process searcher over a W&B space.

It keeps W&B's semantics where users see them (the prior's CDF warp of the space, the
``impute`` rules for failed runs) with a stronger model than W&B's. The parts live apart:
``_encoding.py`` maps configurations to the unit cube, ``_gaussian_process.py`` is the model
and ``_acquisition.py`` chooses the next point; this module holds the search state and its
rules: a space-filling start, imputed failures, no repeated configuration, and the end of a
finite space.

Failed trials (``observe(config, None)``, or a NaN/inf loss) are imputed the worst finite loss
seen so far, re-evaluated every time the model is built. The proposer only ever receives a
trial's final score, so ``impute: best`` and ``latest`` (which W&B reads from the failed run's
own history) have nothing to read and fall back to ``worst``, as W&B does for a failed run
without data. While no trial has a finite loss, failures carry no information and are left out
of the model (W&B's 0.0 would make a crash look like a perfect score). With
``metric.impute_while_running`` set, running trials are told the worst loss (W&B's rule)
instead of being drawn from the model.

A proposal is never a configuration already proposed or observed (W&B's equality of values,
:meth:`raysweep.sweep.space.SearchSpace.key`). When every configuration of a finite space
(only categoricals and int ranges) has been used, :meth:`BayesProposer.propose` returns None
and the sweep ends. A space with a float parameter is never declared used up: if many
candidates in a row all repeat (quantised floats on a short range), the best one is proposed
again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.numeric import finite_float
from raysweep.sweep.space import SearchSpace

from ._base import FlatConfig
from ._encoding import Encoding, Raw
from ._support import configurations, finite_size

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

    from raysweep.sweep.model import Metric

    from ._acquisition import LogExpectedImprovement
    from ._gaussian_process import GaussianProcess

# The model's modules (scikit-learn, SciPy's optimisers) load when the first model-based
# proposal is made, not on import: `raysweep preview` shows the design and needs none of them.

__all__ = ["BayesProposer"]

_STATE_VERSION = 1

_MIN_DIST = 1e-3  # closer than this (in length scales) to a known point is a near-duplicate
_MAX_DESIGN_SKIPS = 64  # design points that repeat a configuration, before the fallback
_MAX_REPEAT_DRAWS = 200  # random draws before a continuous space may repeat a configuration
_MAX_ENUMERATE = 100_000  # finite spaces up to this size are enumerated once nearly used up

# The GP's matrices are at most a few hundred rows wide: a BLAS thread pool only adds overhead
# there, and a lot of it when trials compete for the cores (8x slower measured on 2 busy cores).
_THREADPOOLS: ThreadpoolController | None = None


def _threadpools() -> ThreadpoolController:
    global _THREADPOOLS
    if _THREADPOOLS is None:
        from threadpoolctl import ThreadpoolController

        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS


class BayesProposer:
    """Gaussian-process Bayesian optimisation over a W&B search space.

    Args:
        space: The search space; it needs at least one parameter that is not a constant.
        seed: Seed of every random choice; None draws fresh entropy (kept in the state, so a
            restored search continues identically either way).
        metric: The sweep's metric; only ``impute_while_running`` is read (losses arrive
            already sign-adjusted, and every ``impute`` mode imputes the worst loss). None
            means ``impute: worst``.
        n_initial: Number of proposals from the space-filling initial design before the GP
            takes over; default ``max(5, 2 * d)`` for ``d`` searchable parameters.

    Raises:
        ValueError: if the space has no searchable parameter, a parameter is neither a float,
            an int nor a categorical, or ``n_initial`` is negative.

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
    _obs: list[tuple[Raw, float | None]]  # (raw params, loss or None)
    _obs_x: list[np.ndarray]  # unit vectors of _obs, cached
    _pending: dict[tuple[Any, ...], Raw]  # key -> raw params
    _seen: set[tuple[Any, ...]]  # keys of every proposed or observed configuration
    _failed_at: dict[tuple[Any, ...], int]  # key -> index in _obs of its failed observation
    _gp: GaussianProcess | None  # holds the fitted hyper-parameters; built on first use

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
        self._enc = Encoding(space)
        n_dims = len(self._enc.dims)
        self._n_initial = max(5, 2 * n_dims) if n_initial is None else n_initial
        self._lie_worst = bool(getattr(metric, "impute_while_running", False))
        # The GP expects poor results where it has no data, unless a categorical's untried
        # levels need an average prior to be tried at all (to_targets).
        self._pessimistic = not any(d.kind == "categorical" for d in self._enc.dims)
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
        log expected improvement under the GP, averaged over draws of the pending trials'
        outcomes.
        """
        finite = sum(1 for _, loss in self._obs if loss is not None)
        in_design = self._n_design < self._n_initial and len(self._obs) < self._n_initial
        if in_design or finite < 2 or not self._enc.searchable:
            raw = self._next_design_point()
        else:
            with _threadpools().limit(limits=1, user_api="blas"):
                raw = self._next_model_point()
        if raw is None:
            return None
        config = self._enc.config_of(raw)
        key = self._space.key(config)
        self._seen.add(key)
        self._pending[key] = raw
        return config

    def observe(self, config: FlatConfig, loss: float | None) -> None:
        """Record a finished trial (``loss`` None, NaN or inf for a failed one).

        A configuration this proposer could not have produced (a value outside the space)
        is ignored by the model. A configuration observed before as failed has its failure
        replaced by this outcome (it was run again: ``raysweep resume --rerun-failed``).
        Earlier results (``--warm-start``) are observed the same way before the first
        proposal: with at least ``n_initial`` of them the model proposes from the start.
        """
        key = self._space.key(config)
        self._pending.pop(key, None)
        raw = self._enc.encode(config)
        if raw is None:
            return
        self._seen.add(key)
        value = None if loss is None else finite_float(loss)
        again = self._failed_at.pop(key, None)
        if again is not None:
            # The configuration ran again after it failed (`resume --rerun-failed`, or an
            # earlier result's failure): the new outcome replaces the imputed failure.
            self._obs[again] = (raw, value)
        else:
            again = len(self._obs)
            self._obs.append((raw, value))
            self._obs_x.append(self._enc.unit(raw))
        if value is None:
            self._failed_at[key] = again

    def revise(self, config: FlatConfig, loss: float) -> bool:
        """Improve what was observed of ``config`` to ``loss`` if that is lower (a promoted
        configuration got further at a later rung, ``type: promotion``). Returns whether an
        observation changed; a configuration never observed is left alone."""
        raw = self._enc.encode(config)
        value = finite_float(loss)
        if raw is None or value is None:
            return False
        for i in range(len(self._obs) - 1, -1, -1):
            seen, old = self._obs[i]
            if seen == raw:
                if old is not None and old <= value:
                    return False
                self._obs[i] = (raw, value)
                self._failed_at.pop(self._space.key(config), None)
                return True
        return False

    def get_state(self) -> dict[str, Any]:
        """Return a JSON-compatible snapshot: observations as ``[params, loss]`` (a float or
        int per numeric parameter, an index per categorical), pending proposals, the random
        generator, the design position and the GP's hyper-parameters."""
        theta = None if self._gp is None else self._gp.theta
        return {
            "version": _STATE_VERSION,
            "seed": self._seed,
            "rng": self._rng.bit_generator.state,
            "n_design": self._n_design,
            "observations": [[list(raw), loss] for raw, loss in self._obs],
            "pending": [list(raw) for raw in self._pending.values()],
            "theta": None if theta is None else [float(t) for t in theta],
            "theta_n": 0 if self._gp is None else self._gp.theta_n,
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
        width = len(self._enc.dims)
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
            self._obs_x.append(self._enc.unit(raw))
            key = self._space.key(self._enc.config_of(tuple(raw)))
            self._seen.add(key)
            if loss is None:
                self._failed_at[key] = len(self._obs) - 1
        for raw in state["pending"]:
            config = self._enc.config_of(tuple(raw))
            key = self._space.key(config)
            self._seen.add(key)
            self._pending[key] = tuple(raw)
        theta = state.get("theta")
        if theta is not None or state.get("theta_n"):
            gp = self._model()
            gp.theta = None if theta is None else np.asarray(theta, dtype=float)
            gp.theta_n = int(state.get("theta_n", 0))

    # ----------------------------------------------------------------------------------------
    # Extras
    # ----------------------------------------------------------------------------------------

    def best(self) -> tuple[FlatConfig, float] | None:
        """The observed configuration with the lowest finite loss, or None."""
        finite = [(loss, i) for i, (_, loss) in enumerate(self._obs) if loss is not None]
        if not finite:
            return None
        loss, i = min(finite)
        return self._enc.config_of(self._obs[i][0]), loss

    # ----------------------------------------------------------------------------------------
    # Search
    # ----------------------------------------------------------------------------------------

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
        self._failed_at = {}
        self._gp = None

    def _model(self) -> GaussianProcess:
        if self._gp is None:
            from ._gaussian_process import GaussianProcess

            self._gp = GaussianProcess(self._enc.width)
        return self._gp

    def _design_point(self, i: int) -> Raw:
        """The i-th point of the scrambled Sobol sequence, mapped through the priors."""
        if self._design is None or i >= len(self._design):
            m = max(4, math.ceil(math.log2(i + 1)) + 1)
            from scipy.stats import qmc

            sobol = qmc.Sobol(len(self._enc.dims), scramble=True, seed=self._seed)
            # The sequence is extensible: a longer draw starts with the shorter one.
            self._design = sobol.random_base2(m)
        return self._enc.raw_at_quantiles(self._design[i])

    def _next_design_point(self) -> Raw | None:
        # Skip design points that repeat a configuration (small discrete spaces).
        for _ in range(_MAX_DESIGN_SKIPS):
            raw = self._design_point(self._n_design)
            self._n_design += 1
            if not self._is_seen(raw):
                return raw
        return self._fallback(None, None)

    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors and losses of the observations, failures imputed the worst loss."""
        from ._gaussian_process import cap_rows

        fill = max(loss for _, loss in self._obs if loss is not None)
        y = np.array([fill if loss is None else loss for _, loss in self._obs], dtype=float)
        return cap_rows(np.array(self._obs_x), y)

    def _next_model_point(self) -> Raw | None:
        from ._acquisition import LogExpectedImprovement, maximise
        from ._gaussian_process import to_targets

        X, losses = self._training_data()
        t = to_targets(losses, pessimistic=self._pessimistic)
        Xp = np.array([self._enc.unit(raw) for raw in self._pending.values()]).reshape(
            -1, self._enc.width
        )
        post, draws = self._model().posterior(X, t, Xp, self._rng, lie_worst=self._lie_worst)
        acq = LogExpectedImprovement(post, float(np.max(t)), draws)
        C, a = maximise(acq, self._enc, self._rng, X, t)

        # The best candidate that is new and not within _MIN_DIST length scales of a known
        # or pending point; else the best new one.
        known = np.vstack([X, Xp]) if len(Xp) else X
        fallback: Raw | None = None
        for i in np.argsort(-a, kind="stable"):
            raw = self._enc.raw_of_unit(C[i])
            if self._is_seen(raw):
                continue
            d2 = np.min(np.sum((known - C[i]) ** 2 * post.inv_ls2, axis=1))
            if d2 >= _MIN_DIST**2:
                return raw
            if fallback is None:
                fallback = raw
        if fallback is not None:
            return fallback
        return self._fallback(C[int(np.argmax(a))], acq)

    def _fallback(self, best: np.ndarray | None, acq: LogExpectedImprovement | None) -> Raw | None:
        """Every preferred candidate repeats: find an unseen configuration, or give up.

        A finite space ends (None) only once every configuration is used; a continuous one
        never ends and repeats the best candidate instead (module docstring).

        Args:
            best: The unit vector to repeat in a continuous space; None for a random one.
            acq: Ranks the unseen configurations of a small finite space; None picks one at
                random.
        """
        size = finite_size(self._space)
        if size is not None and size <= _MAX_ENUMERATE:
            unseen = list(self._unseen())
            if not unseen:
                return None
            if acq is None or len(unseen) == 1:
                return unseen[int(self._rng.integers(len(unseen)))]
            U = np.array([self._enc.unit(raw) for raw in unseen])
            return unseen[int(np.argmax(acq(U)))]
        for _ in range(_MAX_REPEAT_DRAWS):
            raw = self._enc.raw_of_unit(self._enc.snap(self._enc.random_rows(self._rng, 1))[0])
            if not self._is_seen(raw):
                return raw
        if size is not None:
            # Too large to enumerate up front, and nearly used up (so at least as many trials
            # ran as the scan below costs): the first unseen configuration in order.
            return next(self._unseen(), None)
        x = best if best is not None else self._enc.snap(self._enc.random_rows(self._rng, 1))[0]
        return self._enc.raw_of_unit(x)

    def _unseen(self) -> Iterator[Raw]:
        """Every configuration of a finite space not yet used, lazily, as raw tuples."""
        for config, _ in configurations(self._space):
            if self._space.key(config) not in self._seen:
                raw = self._enc.encode(config)
                assert raw is not None  # the space's own configurations encode
                yield raw

    def _is_seen(self, raw: Sequence[Any]) -> bool:
        return self._space.key(self._enc.config_of(raw)) in self._seen
