"""The Gaussian-process model of the bayes searcher: what it is fitted on, how, and its posterior.

Targets are minus the losses, standardised, power-warped and shifted so that the prior mean
is their lower quartile (:func:`to_targets`), so the model is maximised. The kernel is
``amplitude * Matern52(one length scale per column) + noise`` on the unit-cube encoding; its
hyper-parameters are a MAP estimate under weak priors, refitted only when due (every
observation up to 50, then after 5 % growth, on at most 120 rows), and in between the GP is
only conditioned on the data. Trials still running are *fantasised*: joint
draws of their outcomes, so the acquisition can average over what they may report.
scikit-learn's ``GaussianProcessRegressor`` fits and conditions; :class:`Posterior` reads the
fitted model to give the noise-free mean and deviation with their gradients, which its
``predict`` does not.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, solve_triangular
from scipy.optimize import minimize
from scipy.stats import yeojohnson, yeojohnson_normmax
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel

__all__ = ["GaussianProcess", "Posterior", "cap_rows", "to_targets"]

# Model-size knobs, measured with benchmarks/bench_bayes.py. Changing one changes the
# proposals for a given seed.
_MAX_POINTS = 300  # above this the GP sees the best _KEEP_BEST and the most recent rest
_KEEP_BEST = 100
_FIT_POINTS = 120  # hyper-parameters are fitted on at most this many rows
_ALWAYS_FIT_UNTIL = 50  # refit hyper-parameters on every observation up to this many
_REFIT_GROWTH = 0.05  # then refit when the data grew by this fraction
_N_FANTASIES = 16  # draws of the pending trials' outcomes
_PRIOR_MEAN_QUANTILE = 0.25  # the targets' quantile that the GP's prior mean (zero) sits at


def cap_rows(X: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows the GP is conditioned on: all, or beyond 300 the 100 with the lowest
    loss and the most recent others, in their original order."""
    if len(losses) <= _MAX_POINTS:
        return X, losses
    idx = _best_and_recent(losses, _KEEP_BEST, _MAX_POINTS)
    return X[idx], losses[idx]


def _best_and_recent(losses: np.ndarray, n_best: int, n_total: int) -> np.ndarray:
    """Indices of the ``n_best`` lowest losses (the earlier first among equals) and then the
    most recent other rows, ``n_total`` in all, in their original order.

    >>> _best_and_recent(np.array([5.0, 1.0, 4.0, 3.0, 2.0, 9.0]), 2, 4).tolist()
    [1, 3, 4, 5]
    """
    keep = set(np.argsort(losses, kind="stable")[:n_best].tolist())
    recent = [i for i in range(len(losses) - 1, -1, -1) if i not in keep]
    keep.update(recent[: n_total - n_best])
    return np.array(sorted(keep), dtype=int)


def to_targets(losses: np.ndarray, pessimistic: bool = True) -> np.ndarray:
    """Return the GP's targets, to *maximise*: minus the losses, standardised and warped.

    The warp is a Yeo-Johnson power transform fitted by maximum likelihood, but only ever one
    that compresses the *bad* tail (lambda >= 1). Losses of real searches are often
    heavy-tailed (diverged runs, Rosenbrock-like valleys): standardising alone lets a few huge
    losses flatten everything else, and the GP then sees no structure near the optimum. A
    transform that also compressed the *good* tail blurred the optimum instead.

    The targets are then shifted so that their lower quartile is zero, the GP's prior mean:
    where it has no data, the model expects a result as poor as the worst quarter seen, not
    an average one. The observations of a search crowd into its good regions, so their mean
    is optimistic; with it as the prior, the far corners of the space looked promising and
    the acquisition spent proposals there instead of settling a basin (Hartmann-6: 16 of 30
    seeds solved, median regret 0.0065; with the quartile 18 of 30, 0.0001; see
    benchmarks/README.md). With ``pessimistic=False`` the prior mean is the targets' mean:
    the proposer asks for that when the space has a categorical, whose levels not yet tried
    a pessimistic prior keeps untried (the `mixed` problem: 22 of 40 seeds solved with the
    mean, 15 of 40 with the quartile).

    >>> t = to_targets(np.array([4.0, 3.0, 1.0, 2.0, 5.0]))
    >>> [int(i) for i in np.argsort(-t)], round(float(np.std(t)), 6)  # best loss first
    ([2, 3, 1, 0, 4], 1.0)
    >>> float(np.quantile(t, 0.25))  # the prior mean
    0.0
    """
    t = -np.asarray(losses, dtype=float)
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
    t = t / float(np.std(t))
    return t - float(np.quantile(t, _PRIOR_MEAN_QUANTILE) if pessimistic else np.mean(t))


def _kernel(width: int, theta: np.ndarray | None) -> Kernel:
    kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
        length_scale=np.full(width, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
    ) + WhiteKernel(1e-4, (1e-6, 1e-1))
    if theta is not None:
        kernel = kernel.clone_with_theta(theta)
    return kernel


def _log_prior(theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Log prior (up to a constant) and its gradient, over the kernel's log-parameters
    ``theta = [log amplitude, log length scales..., log noise]``.

    With a few dozen points, maximum likelihood readily picks length scales that make the GP
    interpolate wildly, or a noise of exactly zero. Weak priors (the ones Optuna's GP sampler
    uses too) keep it sane:

    - length scale l: ``-(0.1 l^2 + 0.1 / l^2)``, peaked at 1 in unit space, steep below 0.2;
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


def _fit_subset(y: np.ndarray) -> np.ndarray:
    """Rows the hyper-parameters are fitted on: all, or the best and the most recent.

    The marginal likelihood costs O(n^3) per step; hyper-parameters barely change beyond
    ~100 points, while the GP itself is then conditioned on every row.
    """
    n = len(y)
    if n <= _FIT_POINTS:
        return np.arange(n)
    return _best_and_recent(-y, _FIT_POINTS // 3, _FIT_POINTS)  # y is maximised


class GaussianProcess:
    """The surrogate model over unit vectors of ``width`` columns.

    Its state is the fitted log-hyper-parameters, :attr:`theta`, and the number of rows they
    were fitted on, :attr:`theta_n`; a proposer saves and restores both.
    """

    _regressor: GaussianProcessRegressor  # the latest fitted or conditioned one

    def __init__(self, width: int) -> None:
        self._width = width
        self.theta: np.ndarray | None = None
        self.theta_n = 0
        self._fit_from_default = True

    def posterior(
        self,
        X: np.ndarray,
        y: np.ndarray,
        pending: np.ndarray,
        rng: np.random.Generator,
        *,
        lie_worst: bool = False,
    ) -> tuple[Posterior, np.ndarray | None]:
        """Fit the hyper-parameters when due, then condition on the data and the pending points.

        Args:
            X: Unit vectors of the observations, one per row.
            y: Their targets (:func:`to_targets`).
            pending: Unit vectors of the trials still running, one per row.
            rng: Draws the pending trials' outcomes.
            lie_worst: Tell pending trials the worst target instead of drawing their outcomes
                (``metric.impute_while_running``).

        Returns:
            The posterior, fantasised when trials are pending (:meth:`Posterior.fantasise`),
            and the draws of the pending points' targets, shape ``(len(pending), 16)``, or
            None when nothing is pending or with ``lie_worst``.
        """
        draws = self._fit(X, y, pending, rng, lie_worst)
        post = Posterior(self._regressor)
        if draws is not None:
            post.fantasise(np.vstack([np.tile(y[:, None], (1, draws.shape[1])), draws]))
        return post, draws

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        Xp: np.ndarray,
        rng: np.random.Generator,
        lie_worst: bool,
    ) -> np.ndarray | None:
        n = len(y)
        due = (
            self.theta is None
            or n <= _ALWAYS_FIT_UNTIL
            or n >= self.theta_n * (1 + _REFIT_GROWTH)
        )
        due = due and n != self.theta_n
        self._fit_from_default = n <= _ALWAYS_FIT_UNTIL
        fitted = False
        with warnings.catch_warnings():
            # sklearn warns when a hyper-parameter sits at its bound; that is expected here
            # (e.g. the noise of a deterministic objective).
            warnings.simplefilter("ignore")
            if due:
                gp = self._make_regressor(optimizer=self._map_estimate)
                sub = _fit_subset(y)
                try:
                    gp.fit(X[sub], y[sub])
                except (LinAlgError, ValueError):
                    pass  # keep the previous hyper-parameters; conditioning below
                else:
                    self.theta = np.asarray(gp.kernel_.theta, dtype=float)
                    self.theta_n = n
                    fitted = len(sub) == n
            if lie_worst and len(Xp):
                # impute_while_running: pending points are told the worst target seen.
                worst = np.full(len(Xp), float(np.min(y)))
                self._condition(np.vstack([X, Xp]), np.concatenate([y, worst]))
                return None
            if not fitted:
                self._condition(X, y)
            if not len(Xp):
                return None
            # Fantasies: joint draws of what the pending trials may report, from the GP of the
            # data. The GP conditioned on data plus pending points is the same for every draw
            # but for its mean (see Posterior.fantasise).
            mean_p, cov = self._regressor.predict(Xp, return_cov=True)
            cov = 0.5 * (cov + cov.T) + 1e-9 * np.eye(len(Xp))
            try:
                chol = np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                chol = np.diag(np.sqrt(np.maximum(np.diag(cov), 0.0)))
            noise = rng.standard_normal((len(Xp), _N_FANTASIES))
            draws: np.ndarray = mean_p[:, None] + chol @ noise
            self._condition(np.vstack([X, Xp]), np.concatenate([y, mean_p]))
        return draws

    def _make_regressor(self, optimizer: Callable[..., Any] | None) -> GaussianProcessRegressor:
        # alpha is a jitter only: the kernel's White term models the noise.
        self._regressor = GaussianProcessRegressor(
            kernel=_kernel(self._width, self.theta), alpha=1e-8, normalize_y=False,
            optimizer=optimizer, n_restarts_optimizer=0,
        )
        return self._regressor

    def _condition(self, X: np.ndarray, y: np.ndarray) -> None:
        """Condition the GP on (X, y) with the current hyper-parameters (one Cholesky)."""
        self._make_regressor(optimizer=None).fit(X, y)

    def _map_estimate(
        self, obj_func: Callable[..., Any], initial_theta: np.ndarray, bounds: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """sklearn's optimizer hook: MAP estimate with L-BFGS-B from a few starts."""

        def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
            nll, ngrad = obj_func(theta, eval_gradient=True)
            lp, lgrad = _log_prior(theta)
            return float(nll - lp), ngrad - lgrad

        starts = [np.asarray(initial_theta, dtype=float)]
        default = _kernel(self._width, None).theta
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


class Posterior:
    """The GP's latent posterior and its gradient, read from a fitted sklearn regressor
    (its documented fitted attributes ``kernel_``, ``X_train_``, ``alpha_`` and ``L_``).

    sklearn's ``predict`` has no gradient and adds the noise term to the variance; optimising
    the acquisition needs both the gradient and the noise-free variance. The kernel is
    ``amplitude * Matern52(ARD) + White`` on exact (unit, one-hot) inputs.
    """

    def __init__(self, gp: GaussianProcessRegressor) -> None:
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

