"""The acquisition of the bayes searcher: log expected improvement, and how it is maximised.

Each proposal maximises the log of the expected improvement over the best target seen, under
the GP's posterior (the log, because late in a search EI underflows almost everywhere that is
not already known). With trials pending, it is the log of the EI averaged over the fantasies
of their outcomes, each against its own incumbent, so a point near a pending one gains little
however good that region looks. Maximising: ~800 screened candidates (uniform, and around the
best observations), then L-BFGS-B with analytic gradients from the incumbent, the best
candidates and a few drawn in proportion to their EI, with a coordinate sweep over integers and
categories in between.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize
from scipy.special import erfcx, ndtr

from ._encoding import Encoding
from ._gaussian_process import Posterior

__all__ = ["LogExpectedImprovement", "log_ei", "logmeanexp", "maximise"]

# Effort knobs, measured with benchmarks/bench_bayes.py. Changing one changes the proposals
# for a given seed.
_N_RANDOM = 512  # uniform candidates per proposal
_N_LOCAL = 64  # candidates around each of the _TOP_OBSERVED best observations
_TOP_OBSERVED = 5
_N_TOP_STARTS = 3  # local searches from the best candidates
_N_ROULETTE_STARTS = 4  # and from candidates drawn with probability ~ EI
_LBFGS_ITERS = 100


def log_ei(
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


def logmeanexp(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log of the mean of exp(a) over the last axis, and the softmax weights (its gradient)."""
    top = a.max(axis=1, keepdims=True)
    e = np.exp(a - top)
    total = e.sum(axis=1, keepdims=True)
    return (np.log(total / a.shape[1]) + top)[:, 0], e / total



class LogExpectedImprovement:
    """log EI under a posterior, to maximise over unit vectors (exact encodings).

    Args:
        posterior: The GP's posterior, fantasised when trials are pending.
        best: The best target seen (targets are maximised).
        draws: The fantasised targets of the pending trials, shape ``(pending, fantasies)``,
            or None; each fantasy's incumbent includes its own draws (Snoek et al., 2012).
    """

    def __init__(self, posterior: Posterior, best: float, draws: np.ndarray | None) -> None:
        self.posterior = posterior
        self._best = best
        self._fantasy_best = None if draws is None else np.maximum(best, draws.max(axis=0))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Return log EI at the rows of ``X``."""
        return self._evaluate(X, grad=False)[0]

    def with_gradient(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return log EI at the rows of ``X`` and its gradient, one row per row of ``X``."""
        value, grad = self._evaluate(X, grad=True)
        assert grad is not None  # asked for with grad=True
        return value, grad

    def _evaluate(self, X: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        post = self.posterior
        if self._fantasy_best is None:
            mean, std, dmean, dstd = post(X, grad)
            value, d_mean, d_std = log_ei(mean, std, self._best)
            if dmean is None or dstd is None:
                return value, None
            return value, d_mean[:, None] * dmean + d_std[:, None] * dstd
        fmean, std, fdmean, dstd = post.fantasies(X, grad)
        fstd = np.repeat(std[:, None], fmean.shape[1], axis=1)
        fvalue, d_mean, d_std = log_ei(fmean, fstd, self._fantasy_best)
        value, weights = logmeanexp(fvalue)
        if fdmean is None or dstd is None:
            return value, None
        g = np.einsum("mf,mfd->md", weights * d_mean, fdmean)
        return value, g + (weights * d_std).sum(axis=1)[:, None] * dstd


def maximise(
    acq: LogExpectedImprovement,
    enc: Encoding,
    rng: np.random.Generator,
    X: np.ndarray,
    y: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Search for the maximum of ``acq`` over the encoded space.

    Args:
        acq: The acquisition.
        enc: The space's encoding.
        rng: Draws the candidates.
        X: Unit vectors of the observations the GP was conditioned on.
        y: Their targets.

    Returns:
        Every candidate judged, as snapped unit vectors (one per row), and its log EI: the
        caller takes the best that it has not proposed before.
    """
    # Screen: uniform candidates for exploration, local ones around the best observations.
    parts = [enc.random_rows(rng, _N_RANDOM)]
    scales = rng.choice([0.2, 0.05, 0.01], size=(_N_LOCAL, 1))
    for i in np.argsort(-y, kind="stable")[:_TOP_OBSERVED]:
        parts.append(_around(enc, rng, X[i], _N_LOCAL, scales))
    C = enc.snap(np.vstack(parts))
    a = acq(C)

    # Local optimisation from the incumbent, the best candidates and a few more drawn with
    # probability proportional to EI (diversity: the best ones often share a mode).
    order = np.argsort(-a, kind="stable")
    chosen = list(order[:_N_TOP_STARTS])
    rest = order[_N_TOP_STARTS:]
    weights = np.exp(a[rest] - a[rest].max())
    if len(rest) and weights.sum() > 0:
        k = min(_N_ROULETTE_STARTS, int(np.count_nonzero(weights)))
        p = weights / weights.sum()
        chosen += list(rng.choice(rest, size=k, replace=False, p=p))
    starts = np.vstack([X[int(np.argmax(y))][None, :], C[chosen]])
    S = _local_search(acq, enc, starts)
    return np.vstack([C, S]), np.concatenate([a, acq(S)])


def _around(
    enc: Encoding, rng: np.random.Generator, x: np.ndarray, n: int, scale: float | np.ndarray
) -> np.ndarray:
    """``n`` perturbations of ``x``: Gaussian steps of ``scale`` on the numbers, and each
    categorical redrawn with probability 1 / (number of parameters)."""
    X = np.tile(x, (n, 1))
    cc = enc.numeric_cols
    if len(cc):
        X[:, cc] = np.clip(X[:, cc] + rng.normal(0.0, 1.0, (n, len(cc))) * scale, 0, 1)
    cats = [d for d in enc.dims if d.kind == "categorical"]
    if cats:
        flip = 1.0 / max(1, len(enc.dims))
        for d in cats:
            rows = np.flatnonzero(rng.random(n) < flip)
            X[np.ix_(rows, d.cols)] = 0.0
            X[rows, d.cols[rng.integers(len(d.cols), size=len(rows))]] = 1.0
    return X


def _local_search(acq: LogExpectedImprovement, enc: Encoding, starts: np.ndarray) -> np.ndarray:
    """Climb log EI from each start: L-BFGS-B on the numeric columns (ints relaxed), then
    snap, then try the nearby ints and every category, then L-BFGS-B on the floats."""
    Z = _lbfgs(acq, starts.copy(), enc.numeric_cols)
    Z = enc.snap(Z)
    changed = _discrete_sweep(acq, enc, Z)
    if changed and len(enc.float_cols):
        Z = enc.snap(_lbfgs(acq, Z, enc.float_cols))
    return Z


def _lbfgs(acq: LogExpectedImprovement, Z: np.ndarray, cols: np.ndarray) -> np.ndarray:
    if not len(cols):
        return Z
    n = len(Z)

    def f(v: np.ndarray) -> tuple[float, np.ndarray]:
        Z[:, cols] = v.reshape(n, len(cols))
        value, grad = acq.with_gradient(Z)
        # The starts are independent, so the sum's gradient is each start's own gradient.
        return -float(value.sum()), -grad[:, cols].ravel()

    before = acq(Z)
    x0 = Z[:, cols].copy()
    # One L-BFGS-B run on the sum over starts (as BoTorch does): the starts are independent,
    # so the gradient is exact, and one vectorised evaluation serves all.
    res = minimize(f, x0.ravel(), jac=True, bounds=[(0.0, 1.0)] * x0.size,
                   method="L-BFGS-B", options={"maxiter": _LBFGS_ITERS})
    Z[:, cols] = np.clip(res.x, 0.0, 1.0).reshape(n, len(cols))
    # The shared line search may trade one start's value for another's: keep the better.
    worse = acq(Z) < before
    Z[np.ix_(worse, cols)] = x0[worse]
    return Z


def _discrete_sweep(acq: LogExpectedImprovement, enc: Encoding, Z: np.ndarray) -> bool:
    """One pass of coordinate search over ints (+-2 steps) and categories, in place."""
    changed = False
    current = acq(Z)
    rows = np.arange(len(Z))
    for d in enc.dims:
        if d.kind not in ("categorical", "int"):
            continue
        cols = d.cols
        if d.kind == "categorical":
            options = np.eye(len(cols))
            V = np.repeat(Z, len(options), axis=0)
            V[:, cols] = np.tile(options, (len(Z), 1))
            per_row = len(options)
        else:
            n_int = d.n_ints
            k = np.clip(np.floor(Z[:, cols[0]] * n_int), 0, n_int - 1)
            steps = np.arange(-2, 3)
            per_row = len(steps)
            V = np.repeat(Z, per_row, axis=0)
            kk = np.clip(np.repeat(k, per_row) + np.tile(steps, len(Z)), 0, n_int - 1)
            V[:, cols[0]] = (kk + 0.5) / n_int
        av = acq(V).reshape(len(Z), per_row)
        j = np.argmax(av, axis=1)
        better = av[rows, j] > current + 1e-12
        if better.any():
            pick = rows[better] * per_row + j[better]
            Z[better] = V[pick]
            current[better] = av[rows[better], j[better]]
            changed = True
    return changed
