"""Reverse stress: the most plausible market move that produces a given loss.

**The most likely scenario** (Breuer, Jandačka, Rheinberger & Summer 2009, "How to find
plausible, severe and useful stress scenarios", *International Journal of Central
Banking* 5(3); McNeil & Smith 2012): among the factor moves :math:`x` that lose ``L``,
the one nearest the centre of the distribution in Mahalanobis distance
:math:`d(x) = \\sqrt{x^\\top \\Sigma^{-1} x}`.

* **Linear book** (P&L :math:`e^\\top x`, ``e`` the P&L per unit move of each factor):
  minimising :math:`\\tfrac12 x^\\top\\Sigma^{-1}x` subject to :math:`e^\\top x = -L` gives,
  by a Lagrange multiplier,

  .. math:: x^* = -L \\frac{\\Sigma e}{e^\\top \\Sigma e}, \\qquad
            d(x^*) = \\frac{L}{\\sqrt{e^\\top \\Sigma e}}

  (:func:`analytic_reverse`).
* **Options** (full revaluation): the same problem with the P&L from
  :func:`riskstream.stress.revalue.revalue`, solved numerically (:func:`reverse_stress`):
  in whitened coordinates :math:`x = U \\Lambda^{1/2} z` (eigen-decomposition of
  :math:`\\Sigma`; a sample covariance of more factors than days is singular, and only
  moves inside its span have a finite distance) the distance is :math:`\\|z\\|`. The search
  runs over the ``n_components`` largest principal components (all of them when there are
  fewer — then it is the exact problem), started at the first-order solution in that
  space (the P&L's gradient along each component, by central differences, gives the
  linear formula above), by SLSQP (scipy) with the loss as an equality constraint; each
  constraint gradient is one batched revaluation of the book (a finite difference per
  direction). With more components than searched the result is the most likely scenario
  *within the main components*: its distance is an upper bound of the true minimum.

**Plausibility.** Under a normal distribution with covariance :math:`\\Sigma` the
portfolio's linearised P&L along the scenario has standard deviation
:math:`\\sqrt{e^\\top\\Sigma e}`, so the probability of losing at least ``L`` is
:math:`\\Phi(-d)` (``probability``); the probability of a move at least as far from the
centre in any direction is the :math:`\\chi^2_k` tail :math:`P(\\chi^2_k \\ge d^2)`
(``probability_any_direction``, ``k`` the number of factors with variance).

**Smallest uniform shock breaching a limit** (:func:`uniform_breach`): the smallest move
``s`` applied to every factor of a chosen set (``EQ:`` prices, a curve's key rates, all
vols ...) whose full-revaluation loss reaches a limit's hard threshold, found by a scan of
both signs and bisection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from riskstream.core.errors import InputError
from riskstream.stress.book import StressBook
from riskstream.stress.revalue import ScenarioMatrix, revalue

EIGEN_FLOOR = 1e-12  # relative: eigenvalues below this times the largest are no variance


@dataclass(frozen=True)
class ReverseResult:
    """A reverse-stress scenario.

    Attributes
    ----------
    shock : dict of factor to move (engine units)
    loss : float — the loss targeted (positive)
    pnl : float — the P&L of the scenario (full revaluation for a book; ``-loss`` if met)
    mahalanobis : float
    probability : float — :math:`\\Phi(-d)`
    probability_any_direction : float — :math:`P(\\chi^2_k \\ge d^2)`
    method : str
    """

    shock: dict[str, float]
    loss: float
    pnl: float
    mahalanobis: float
    probability: float
    probability_any_direction: float
    method: str
    details: dict[str, Any]

    def as_dict(self, top: int | None = None) -> dict[str, Any]:
        shock = self.shock
        if top is not None:
            keep = sorted(shock, key=lambda k: -abs(shock[k]))[:top]
            shock = {k: shock[k] for k in keep}
        return {
            "shock": shock,
            "loss": self.loss,
            "pnl": self.pnl,
            "mahalanobis": self.mahalanobis,
            "probability": self.probability,
            "probability_any_direction": self.probability_any_direction,
            "method": self.method,
            **self.details,
        }


def _check(cov: np.ndarray, e: np.ndarray, loss: float) -> tuple[np.ndarray, np.ndarray]:
    cov = np.asarray(cov, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise InputError("cov", f"shape {cov.shape}", "a square matrix")
    if e.shape != (cov.shape[0],):
        raise InputError("exposures", f"{e.size} factors", f"{cov.shape[0]} (the covariance's)")
    if not (np.all(np.isfinite(cov)) and np.all(np.isfinite(e))):
        raise InputError("cov/exposures", "NaN or inf", "finite numbers")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-14):
        raise InputError("cov", "not symmetric", "a symmetric covariance matrix")
    if not (np.isfinite(loss) and loss > 0):
        raise InputError("loss", loss, "a positive loss amount")
    return cov, e


def _plausibility(d: float, k: int) -> tuple[float, float]:
    return float(stats.norm.sf(d)), float(stats.chi2.sf(d * d, k))


def analytic_reverse(
    cov: np.ndarray, exposures: np.ndarray, loss: float, names: list[str] | None = None
) -> ReverseResult:
    """The most likely move losing ``loss`` on a linear book (module docstring formula).

    Parameters
    ----------
    cov : ndarray of shape (n, n)
        Covariance of the factor moves.
    exposures : ndarray of shape (n,)
        P&L per unit move of each factor.
    loss : float
        The loss to produce (positive).
    """
    cov, e = _check(cov, exposures, loss)
    names = names or [f"f{i}" for i in range(e.size)]
    s = cov @ e
    var = float(e @ s)
    if not var > 0:
        raise InputError("exposures", "no variance", "exposures with e'Σe > 0")
    x = -loss * s / var
    d = loss / np.sqrt(var)
    k = int(np.sum(np.linalg.eigvalsh(cov) > EIGEN_FLOOR * max(np.abs(cov).max(), 1e-300)))
    p, p_any = _plausibility(d, k)
    return ReverseResult(
        {n: float(v) for n, v in zip(names, x, strict=True)},
        float(loss),
        float(e @ x),
        float(d),
        p,
        p_any,
        "analytic (linear book)",
        {"sigma_pnl": float(np.sqrt(var))},
    )


class _Whitened:
    """Coordinates z with x = B z and Mahalanobis distance |z|: B = U Λ^½ over the
    directions with variance, largest first (from a covariance's eigen-decomposition, or
    — much cheaper for thousands of factors and a few hundred days — from the SVD of the
    demeaned daily moves, :math:`X = U S V^\\top`, :math:`\\Sigma = V S^2 V^\\top / (T-1)`)."""

    def __init__(self, b: np.ndarray):
        self.b = b

    @classmethod
    def from_cov(cls, cov: np.ndarray) -> _Whitened:
        lam, u = np.linalg.eigh(cov)
        keep = lam > EIGEN_FLOOR * max(lam.max(), 1e-300)
        return cls((u[:, keep] * np.sqrt(lam[keep]))[:, ::-1])

    @classmethod
    def from_moves(cls, moves: np.ndarray) -> _Whitened:
        x = np.asarray(moves, dtype=np.float64)
        x = x - x.mean(axis=0)
        # the SVD through the small (days x days) Gram matrix: X X' = U S^2 U', V = X' U / S
        lam, u = np.linalg.eigh(x @ x.T)
        keep = lam > EIGEN_FLOOR * max(lam.max(), 1e-300)
        lam, u = lam[keep][::-1], u[:, keep][:, ::-1]
        v = x.T @ u / np.sqrt(lam)
        return cls(np.ascontiguousarray(v * np.sqrt(lam / max(x.shape[0] - 1, 1))))

    @property
    def rank(self) -> int:
        return int(self.b.shape[1])


def reverse_stress(
    book: StressBook,
    factors: list[str],
    loss: float,
    cov: np.ndarray | None = None,
    moves: np.ndarray | None = None,
    n_components: int = 20,
    bump: float = 1e-4,
    max_iter: int = 60,
) -> ReverseResult:
    """:func:`_reverse_stress` with BLAS limited to one thread: its matrices are small
    (days x days, a few rows of moves), where a multithreaded BLAS only spins."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _reverse_stress(book, factors, loss, cov, moves, n_components, bump, max_iter)


def _reverse_stress(
    book: StressBook,
    factors: list[str],
    loss: float,
    cov: np.ndarray | None = None,
    moves: np.ndarray | None = None,
    n_components: int = 20,
    bump: float = 1e-4,
    max_iter: int = 60,
) -> ReverseResult:
    """The most likely move of ``factors`` losing ``loss`` on ``book``, full revaluation.

    Parameters
    ----------
    book : StressBook
    factors : list of str
        The factors moved (columns of ``cov``); the others stay.
    loss : float
        Positive loss to produce.
    cov : ndarray of shape (len(factors), len(factors)), optional
        Covariance of their moves (engine units: e.g. daily moves' covariance).
    moves : ndarray of shape (n_days, len(factors)), optional
        Instead of ``cov``: the daily moves whose sample covariance it is (e.g. the factor
        history of ``riskstream risk``); whitened by SVD, without forming the covariance.
    n_components : int
        Principal components searched besides the linear solution's direction.
    bump : float
        Finite-difference step in whitened units (a fraction of a standard deviation).

    Returns
    -------
    ReverseResult
        ``details``: ``linear_mahalanobis`` (the first-order solution's distance),
        ``iterations``, ``revaluations``, ``converged``.
    """
    if (cov is None) == (moves is None):
        raise InputError("cov/moves", None, "exactly one of a covariance or daily moves")
    if cov is not None:
        cov, _ = _check(cov, np.zeros(len(factors)), loss)
        white = _Whitened.from_cov(cov)
    else:
        moves = np.asarray(moves, dtype=np.float64)
        if moves.ndim != 2 or moves.shape[1] != len(factors) or not np.all(np.isfinite(moves)):
            raise InputError("moves", f"shape {moves.shape}", f"finite (n_days, {len(factors)})")
        _check(np.eye(1), np.zeros(1), loss)
        white = _Whitened.from_moves(moves)
    where = {k: j for j, k in enumerate(book.keys)}
    missing = [f for f in factors if f not in where]
    if missing:
        raise InputError("factors", missing[:5], "risk factors of the book")
    cols = np.array([where[f] for f in factors], dtype=np.int64)
    bt = np.ascontiguousarray(white.b.T)
    if white.rank == 0:
        raise InputError("cov", "zero", "a covariance with some variance")
    revals = 0

    def pnl_of(z_rows: np.ndarray) -> np.ndarray:
        nonlocal revals
        x = z_rows @ bt  # (rows, n)
        moves = np.zeros((x.shape[0], book.n_factors))
        moves[:, cols] = x
        revals += x.shape[0]
        names = tuple(str(i) for i in range(x.shape[0]))
        return revalue(book, ScenarioMatrix(names, moves, np.zeros_like(moves))).total

    # the gradient of the P&L in whitened coordinates along the top components (one
    # batched revaluation): the linear solution's direction in that space
    m = min(n_components, white.rank)
    basis = np.eye(white.rank)[:, :m]
    central = pnl_of(np.vstack([bump * basis.T, -bump * basis.T]))
    grad = (central[:m] - central[m:]) / (2 * bump)
    a = basis @ grad
    if not np.linalg.norm(a) > 0:
        raise InputError("book", "no exposure", "a book whose P&L moves with the factors")
    z_lin = -loss * a / (a @ a)
    d_lin = float(np.linalg.norm(z_lin))
    # search space: the top components (the linear solution lies in their span)
    q = basis

    def constraint(c: np.ndarray) -> float:
        return float(pnl_of((q @ c)[None, :])[0] + loss) / loss

    def constraint_jac(c: np.ndarray) -> np.ndarray:
        k = c.size
        steps = np.vstack([c + bump * np.eye(k)[j] for j in range(k)])
        zs = steps @ q.T
        vals = pnl_of(np.vstack([zs, (q @ c)[None, :]]))
        return (vals[:k] - vals[k]) / bump / loss

    c0 = q.T @ z_lin
    res = optimize.minimize(
        lambda c: 0.5 * float(c @ c),
        c0,
        jac=lambda c: c,
        constraints=[{"type": "eq", "fun": constraint, "jac": constraint_jac}],
        method="SLSQP",
        options={"maxiter": max_iter, "ftol": 1e-10},
    )
    z = q @ res.x
    x = white.b @ z
    pnl = float(pnl_of(z[None, :])[0])
    d = float(np.linalg.norm(z))
    p, p_any = _plausibility(d, white.rank)
    return ReverseResult(
        {f: float(v) for f, v in zip(factors, x, strict=True)},
        float(loss),
        pnl,
        d,
        p,
        p_any,
        "optimised (full revaluation, SLSQP)",
        {
            "linear_mahalanobis": d_lin,
            "iterations": int(res.nit),
            "revaluations": int(revals),
            "converged": bool(res.success and abs(pnl + loss) <= 1e-3 * loss),
            "components": int(q.shape[1]),
        },
    )


def uniform_breach(
    book: StressBook,
    factors: list[str],
    limit: float,
    max_move: float,
    steps: int = 40,
    tol: float = 1e-6,
) -> dict[str, Any]:
    """The smallest uniform move of ``factors`` whose loss reaches ``limit``.

    Parameters
    ----------
    book : StressBook
    factors : list of str
        The factor set moved together (each by the same ``s``, in its units).
    limit : float
        The loss (positive) that breaches the limit — its hard threshold.
    max_move : float
        The largest ``|s|`` searched (e.g. 0.5 for prices, 0.05 for rates).

    Returns
    -------
    dict
        ``move`` (signed; None when no move within ``±max_move`` breaches), ``pnl`` at it,
        ``direction``.
    """
    if not (np.isfinite(limit) and limit > 0):
        raise InputError("limit", limit, "a positive loss threshold")
    if not factors:
        raise InputError("factors", factors, "at least one factor")
    cols = np.array([book.index(f) for f in factors], dtype=np.int64)

    def pnl(moves: np.ndarray) -> np.ndarray:
        m = np.zeros((moves.size, book.n_factors))
        m[:, cols] = moves[:, None]
        names = tuple(str(i) for i in range(moves.size))
        return revalue(book, ScenarioMatrix(names, m, np.zeros_like(m))).total

    grid = np.linspace(0.0, max_move, steps + 1)[1:]
    best: tuple[float, float] | None = None
    for sign in (-1.0, 1.0):
        values = pnl(sign * grid)
        hit = np.flatnonzero(values <= -limit)
        if hit.size == 0:
            continue
        j = hit[0]
        lo, hi = (0.0 if j == 0 else grid[j - 1]), grid[j]
        while hi - lo > tol * max(max_move, 1e-12):
            mid = 0.5 * (lo + hi)
            if pnl(np.array([sign * mid]))[0] <= -limit:
                hi = mid
            else:
                lo = mid
        if best is None or hi < abs(best[0]):
            best = (sign * hi, float(pnl(np.array([sign * hi]))[0]))
    if best is None:
        return {"move": None, "pnl": None, "direction": None, "searched": max_move}
    return {
        "move": best[0],
        "pnl": best[1],
        "direction": "down" if best[0] < 0 else "up",
        "searched": max_move,
    }
