"""Scenario generators: historical, filtered historical and Monte Carlo simulation.

Every generator has one interface, so the risk engine and the backtests swap them by name:

* ``fit(returns)`` with ``returns`` of shape (n_obs, n_factors): daily **log** returns of the
  risk factors (decimal), oldest first; returns ``self``.
* ``generate(n_scenarios, horizon_days=1, seed=None)`` → ndarray (n_scenarios, n_factors) of
  ``horizon_days``-day log returns (the sum of the daily log returns along a path).
  Deterministic by seed: the same fit, arguments and seed give the same array bit for bit.

Multi-day scenarios come from simulated (or historical) *paths*, never from scaling one day
by :math:`\\sqrt{h}` — volatility clustering and mean reversion make the h-day distribution
differ from the √h-scaled one-day distribution.

* :class:`HistoricalSimulation` — the factors' own past moves, unweighted.
* :class:`FilteredHistoricalSimulation` — Barone-Adesi, Giannopoulos and Vosper (1999):
  GARCH-filtered standardised residuals, bootstrapped by whole rows (dates) so the
  cross-sectional dependence of that day is kept, re-scaled by today's volatility forecast
  and pushed through the GARCH recursion day by day.
* :class:`MonteCarloSimulation` — GARCH-t marginals joined by a copula fitted to the
  standardised residuals' ranks, simulated through the GARCH recursion.

Generators are composed from estimator instances (:mod:`riskstream.models.base`):
``FilteredHistoricalSimulation(volatility=GarchPanel(o=1))``,
``MonteCarloSimulation(copula=GaussianCopula(), volatility=GarchPanel(dist="normal"))``.
:func:`scenario_generator` (by name) and :func:`generator_from_config` (from the ``[models]``
settings) build them for the CLI and the risk engine. A fitted generator's ``warnings_``
lists its parts' convergence and data-scale warnings; the risk engine carries them into
the scenario set and the snapshot's lineage.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError, ModelError
from riskstream.models._quantile_map import scores_to_innovations
from riskstream.models._validation import (
    as_return_row,
    as_returns_matrix,
    check_choice,
    check_positive_int,
)
from riskstream.models.base import Estimator, clone
from riskstream.models.config import ModelsConfig
from riskstream.models.copulas import (
    GaussianCopula,
    StudentTCopula,
    make_copula,
    pseudo_observations,
)
from riskstream.models.garch import GarchPanel


@runtime_checkable
class ScenarioGenerator(Protocol):
    """What the risk engine needs from a scenario model."""

    def fit(self, returns: ArrayLike) -> ScenarioGenerator:
        """Learn from daily log returns (n_obs, n_factors)."""
        ...

    def generate(
        self, n_scenarios: int, horizon_days: int = 1, seed: int | None = None
    ) -> np.ndarray:
        """Horizon log returns (n_scenarios, n_factors)."""
        ...


def _check_seed(seed: int | None) -> np.random.Generator:
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
    ):
        raise InputError("seed", seed, "None or a non-negative integer")
    return np.random.default_rng(seed)


class _Generator(Estimator):
    """Shared checks: fitted state and the ``generate`` arguments."""

    def _require_fit(self) -> None:
        if not hasattr(self, "n_factors_"):
            raise ModelError(f"{type(self).__name__} is not fitted: call fit(returns) first")

    def _args(self, n_scenarios: int, horizon_days: int) -> tuple[int, int]:
        self._require_fit()
        return (
            check_positive_int(n_scenarios, "n_scenarios"),
            check_positive_int(horizon_days, "horizon_days"),
        )


class HistoricalSimulation(_Generator):
    """Historical simulation: tomorrow's move is one of the moves already seen.

    Parameters
    ----------
    paths : {"overlapping", "bootstrap"}, default "overlapping"
        How h-day scenarios are built.

        * ``"overlapping"`` — the most recent ``n_scenarios`` overlapping h-day windows of
          history, :math:`\\sum_{s=t-h+1}^{t} r_s`, oldest first. Exact historical VaR: with
          ``horizon_days=1`` the scenarios are the last ``n_scenarios`` daily returns
          themselves. Needs ``n_scenarios ≤ n_obs - h + 1`` (see :meth:`n_windows`);
          ``seed`` is ignored. Overlapping windows are serially correlated, which matters
          for the statistics of a backtest but not for the quantile itself.
        * ``"bootstrap"`` — each scenario sums ``h`` historical dates drawn with
          replacement, whole rows at a time (cross-sectional dependence kept, volatility
          clustering lost). Any number of scenarios; deterministic by ``seed``.

    Attributes
    ----------
    returns_ : ndarray of shape (n_obs, n_factors)
        The history (daily log returns, decimal).
    n_factors_ : int
    warnings_ : list of str
        Always empty (nothing is estimated).
    """

    def __init__(self, paths: str = "overlapping") -> None:
        self.paths = paths

    def fit(self, returns: ArrayLike) -> HistoricalSimulation:
        """Store the validated history (n_obs, n_factors); returns self."""
        check_choice(self.paths, "paths", ("overlapping", "bootstrap"))
        self._start_warnings()
        self.returns_ = as_returns_matrix(returns, min_obs=2)
        self.n_factors_ = self.returns_.shape[1]
        return self

    def update(self, r_t: ArrayLike) -> HistoricalSimulation:
        """Append one new day of factor returns ``r_t`` (n_factors,); returns ``self``."""
        self._require_fit()
        row = as_return_row(r_t, self.n_factors_)
        self.returns_ = np.vstack([self.returns_, row])
        return self

    def n_windows(self, horizon_days: int = 1) -> int:
        """Number of overlapping ``horizon_days``-day windows in the history."""
        self._require_fit()
        return self.returns_.shape[0] - check_positive_int(horizon_days, "horizon_days") + 1

    def generate(
        self, n_scenarios: int, horizon_days: int = 1, seed: int | None = None
    ) -> np.ndarray:
        """Horizon log returns (n_scenarios, n_factors); see the class notes."""
        n, h = self._args(n_scenarios, horizon_days)
        rng = _check_seed(seed)
        r = self.returns_
        if check_choice(self.paths, "paths", ("overlapping", "bootstrap")) == "bootstrap":
            idx = rng.integers(0, r.shape[0], size=(n, h))
            return r[idx].sum(axis=1)
        available = r.shape[0] - h + 1
        if n > available:
            raise InputError(
                "n_scenarios",
                n,
                f"at most {available} overlapping {h}-day windows from {r.shape[0]} "
                "observations (or paths='bootstrap')",
            )
        recent = r[r.shape[0] - (n + h - 1) :]
        if h == 1:
            return recent.copy()
        # windows: (n, n_factors, h) view; summing it gives each window's h-day log return
        return sliding_window_view(recent, h, axis=0).sum(axis=-1)


class FilteredHistoricalSimulation(_Generator):
    """Filtered historical simulation (Barone-Adesi, Giannopoulos and Vosper 1999).

    Each factor is filtered by a GARCH(1,1) (GJR with ``o=1``) giving standardised residuals
    :math:`z_t = (r_t - \\mu)/\\sigma_t`, approximately i.i.d. A scenario path draws ``h``
    historical *dates* with replacement and takes all factors' :math:`z` of each date (so the
    day's cross-sectional dependence survives), then runs the GARCH recursion forward from
    today's forecast :math:`\\sigma_{T+1}`:

    .. math::
        r_{T+k} = \\mu + \\sigma_{T+k} z_{s_k}, \\qquad
        \\sigma^2_{T+k+1} = \\omega + (\\alpha + \\gamma\\mathbf 1[\\epsilon_{T+k}<0])
        \\epsilon^2_{T+k} + \\beta\\sigma^2_{T+k}.

    With ``horizon_days=1`` a scenario is exactly :math:`\\mu + \\sigma_{T+1} z_s`: history's
    shocks re-scaled to today's volatility.

    Parameters
    ----------
    volatility : GarchPanel, optional
        The filter (default ``GarchPanel()``: GARCH(1,1)-t, constant mean; ``o=1`` for the
        GJR leverage term); cloned before fitting. Its ``dist`` is the likelihood used to
        estimate the filter — the scenarios use the empirical residuals, whatever it is.

    Attributes
    ----------
    garch_ : GarchPanel
        The fitted filters.
    standardized_residuals_ : ndarray of shape (n_obs, n_factors)
    volatility_ : ndarray of shape (n_factors,)
        Today's one-day volatility forecast :math:`\\sigma_{T+1}` (decimal).
    n_factors_ : int
    warnings_ : list of str
        The filter's convergence and data-scale warnings.
    """

    def __init__(self, volatility: GarchPanel | None = None) -> None:
        self.volatility = volatility

    def fit(self, returns: ArrayLike) -> FilteredHistoricalSimulation:
        """Fit one GARCH filter per factor; returns self."""
        log = self._start_warnings()
        vol = GarchPanel() if self.volatility is None else clone(self.volatility)
        self.garch_ = vol.fit(returns)
        log.extend(self.garch_.warnings_)
        self.standardized_residuals_ = self.garch_.standardized_residuals_
        self.volatility_ = self.garch_.next_volatility_
        self.n_factors_ = self.standardized_residuals_.shape[1]
        return self

    def update(self, r_t: ArrayLike) -> FilteredHistoricalSimulation:
        """Absorb one new day ``r_t`` (n_factors,) with the GARCH parameters fixed: its
        standardised residual joins the pool and today's volatility rolls forward
        (:meth:`GarchPanel.update`). Returns ``self``."""
        self._require_fit()
        self.garch_.update(as_return_row(r_t, self.n_factors_))
        self.standardized_residuals_ = self.garch_.standardized_residuals_
        self.volatility_ = self.garch_.next_volatility_
        return self

    def generate(
        self, n_scenarios: int, horizon_days: int = 1, seed: int | None = None
    ) -> np.ndarray:
        """Horizon log returns (n_scenarios, n_factors) from bootstrapped residual rows."""
        n, h = self._args(n_scenarios, horizon_days)
        rng = _check_seed(seed)
        z = self.standardized_residuals_
        dates = rng.integers(0, z.shape[0], size=(n, h))
        return self.garch_.simulate(n, h, innovations=z[dates]).sum(axis=1)


class MonteCarloSimulation(_Generator):
    """Monte Carlo: GARCH-t marginals joined by a copula, simulated through the recursion.

    Fit: a GARCH per factor (:class:`GarchPanel`), then a copula on the pseudo-observations
    (ranks) of the standardised residuals. Generate: copula uniforms :math:`u`, turned into
    each factor's standardised innovation by its own fitted marginal
    (:math:`z_i = t^{-1}_{\\nu_i}(u_i)\\sqrt{(\\nu_i-2)/\\nu_i}`, or :math:`\\Phi^{-1}(u_i)`
    for normal GARCH), fed day by day to the GARCH recursion from today's volatility. The
    map from copula scores to innovations is tabulated per factor and evaluated by a cubic
    spline (:mod:`riskstream.models._quantile_map`, error ~1e-12 against SciPy's exact
    inverse CDFs, several times faster).

    Parameters
    ----------
    copula : GaussianCopula or StudentTCopula, optional
        The dependence (default ``StudentTCopula()``); cloned before fitting.
    volatility : GarchPanel, optional
        The marginals (default ``GarchPanel()``: GARCH(1,1)-t, constant mean; its ``dist``
        is the marginal innovation law, ``o=1`` adds the GJR term); cloned before fitting.

    Attributes
    ----------
    garch_ : GarchPanel
    copula_ : GaussianCopula or StudentTCopula
    volatility_ : ndarray of shape (n_factors,)
        Today's one-day volatility forecast (decimal).
    n_factors_ : int
    warnings_ : list of str
        The marginals' and the copula's convergence and data-scale warnings.
    """

    def __init__(
        self,
        copula: GaussianCopula | StudentTCopula | None = None,
        volatility: GarchPanel | None = None,
    ) -> None:
        self.copula = copula
        self.volatility = volatility

    def fit(self, returns: ArrayLike) -> MonteCarloSimulation:
        """Fit the GARCH marginals and the copula; returns self."""
        if self.copula is not None and not isinstance(self.copula, GaussianCopula | StudentTCopula):
            raise InputError(
                "copula", self.copula, "a GaussianCopula or StudentTCopula instance (or None)"
            )
        log = self._start_warnings()
        copula = StudentTCopula() if self.copula is None else clone(self.copula)
        vol = GarchPanel() if self.volatility is None else clone(self.volatility)
        self.garch_ = vol.fit(returns)
        log.extend(self.garch_.warnings_)
        u = pseudo_observations(self.garch_.standardized_residuals_)
        self.copula_ = copula.fit(u)
        log.extend(self.copula_.warnings_)
        self.volatility_ = self.garch_.next_volatility_
        self.n_factors_ = u.shape[1]
        return self

    def update(self, r_t: ArrayLike) -> MonteCarloSimulation:
        """Absorb one new day ``r_t`` (n_factors,): volatilities roll forward with the GARCH
        parameters and the copula fixed. Returns ``self``."""
        self._require_fit()
        self.garch_.update(as_return_row(r_t, self.n_factors_))
        self.volatility_ = self.garch_.next_volatility_
        return self

    def generate(
        self, n_scenarios: int, horizon_days: int = 1, seed: int | None = None
    ) -> np.ndarray:
        """Horizon log returns (n_scenarios, n_factors) of copula-dependent GARCH paths."""
        n, h = self._args(n_scenarios, horizon_days)
        rng = _check_seed(seed)
        scores = self.copula_.sample_scores(n * h, rng)
        z = scores_to_innovations(scores, self.copula_.nu_, self.garch_.nu_)
        z = z.reshape(n, h, self.n_factors_)
        return self.garch_.simulate(n, h, innovations=z).sum(axis=1)


_ALIASES = {
    "historical": HistoricalSimulation,
    "hs": HistoricalSimulation,
    "fhs": FilteredHistoricalSimulation,
    "filtered_historical": FilteredHistoricalSimulation,
    "mc": MonteCarloSimulation,
    "monte_carlo": MonteCarloSimulation,
}


def scenario_generator(
    name: str, **params: object
) -> HistoricalSimulation | FilteredHistoricalSimulation | MonteCarloSimulation:
    """Build an unfitted scenario generator by name (for the CLI; in code, construct the
    class with estimator instances).

    Parameters
    ----------
    name : str
        ``"historical"`` / ``"hs"``, ``"fhs"`` (``"filtered_historical"``), ``"mc"``
        (``"monte_carlo"``); case-insensitive.
    **params
        The class's own parameters (``paths``, ``volatility``, ``copula`` as instances), or
        the plain-value shortcuts of the CLI: ``o``, ``dist``, ``mean``, ``max_iter`` build
        the ``GarchPanel`` of ``fhs``/``mc``, and ``copula="t"`` / ``"gaussian"`` the copula
        of ``mc`` (:func:`~riskstream.models.copulas.make_copula`).

    Raises
    ------
    InputError
        Unknown name, or a parameter the chosen generator does not take.
    """
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key not in _ALIASES:
        raise InputError("name", name, "one of " + ", ".join(sorted(_ALIASES)))
    cls = _ALIASES[key]
    params = dict(params)
    if cls is not HistoricalSimulation:
        garch = {k: params.pop(k) for k in _GARCH_SHORTCUTS if k in params}
        if garch:
            if "volatility" in params:
                raise InputError("params", sorted(garch), "either volatility= or GARCH settings")
            params["volatility"] = GarchPanel(**garch)  # type: ignore[arg-type]
        if cls is MonteCarloSimulation and isinstance(params.get("copula"), str):
            params["copula"] = make_copula(params["copula"])  # type: ignore[arg-type]
    try:
        return cls(**params)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InputError("params", sorted(params), f"parameters of {cls.__name__}: {exc}") from None


_GARCH_SHORTCUTS = ("o", "dist", "mean", "max_iter")


def generator_from_config(
    method: str, models: ModelsConfig
) -> HistoricalSimulation | FilteredHistoricalSimulation | MonteCarloSimulation:
    """The unfitted scenario generator of ``method`` built from the ``[models]`` settings.

    ``historical`` takes ``hs_paths``; ``fhs`` and ``mc`` a :class:`GarchPanel` with
    ``garch_dist``, ``garch_mean`` and ``garch_asymmetric`` (``o=1``); ``mc`` also the
    ``copula``. This is how the risk engine and ``riskstream scenarios`` honour the
    settings.

    Raises
    ------
    InputError
        Unknown ``method``.
    """
    key = method.lower().replace("-", "_") if isinstance(method, str) else method
    cls = _ALIASES.get(key)
    if cls is None:
        raise InputError("method", method, "one of " + ", ".join(sorted(_ALIASES)))
    if cls is HistoricalSimulation:
        return HistoricalSimulation(paths=models.hs_paths)
    volatility = GarchPanel(
        o=1 if models.garch_asymmetric else 0, dist=models.garch_dist, mean=models.garch_mean
    )
    if cls is FilteredHistoricalSimulation:
        return FilteredHistoricalSimulation(volatility=volatility)
    return MonteCarloSimulation(copula=make_copula(models.copula), volatility=volatility)
