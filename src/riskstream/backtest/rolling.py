"""Rolling out-of-sample validation: walk forward, forecast tomorrow's VaR/ES, step.

For each day :math:`t` after the first ``window`` days, a model sees only the returns up to
:math:`t-1` and forecasts the one-day VaR and ES of day :math:`t`; the realised return of
day :math:`t` is then compared with the forecast. No forecast ever sees its own outcome.

The models are the project's own (:mod:`riskstream.models` scenario generators and
volatility models, :mod:`riskstream.risk.measures` VaR/ES), each wrapped in a small
forecaster with one method, ``forecast(t)``:

========== ==================================================================================
``hs``     historical simulation: the last ``window`` returns are the scenarios
           (``HistoricalSimulation``), VaR/ES by ``var_es_from_pnl``.
``fhs``    filtered historical simulation (Barone-Adesi et al. 1999,
           ``FilteredHistoricalSimulation``): bootstrapped GARCH residuals re-scaled to
           tomorrow's volatility; ``n_scenarios`` draws.
``garch-t`` parametric GARCH(1,1) with Student-t innovations (``GarchPanel``): closed-form
           standardised-t VaR and ES at tomorrow's volatility.
``ewma``   RiskMetrics EWMA volatility, :math:`\\lambda = 0.94` (``EWMACovariance``), normal
           VaR/ES with zero mean (``normal_var_es``).
``mc``     Monte Carlo: GARCH-t paths (``MonteCarloSimulation``), ``n_scenarios`` draws.
========== ==================================================================================

**Refitting.** Re-estimating a GARCH by maximum likelihood every day costs a numerical
optimisation per day per model. GARCH parameters move slowly, so the GARCH-based models
(``fhs``, ``garch-t``, ``mc``) are re-estimated on the latest ``window`` returns every
``refit_every_days`` days (default 20, about a month) and, in between, *filtered* daily with
the parameters fixed (``update``: the new return updates tomorrow's conditional variance
and joins the residual pool). The volatility forecast is therefore always up to date; only
the parameters are up to 19 days old. ``refit_every_days=1`` re-estimates daily.

**Blocks of days, run anywhere.** A refit day starts afresh: the model is estimated on the
window before it, and nothing earlier is carried. So the walk is cut into blocks of days
that start on refit days (``days_per_task``, rounded up to a whole number of refit
intervals), and each block is an independent task: a new forecaster per block gives the same
forecasts, bit for bit, as one forecaster walking the whole series. ``ewma`` carries its
variance from the first forecast day, so its block replays the cheap daily recursion from
there before forecasting. The blocks run one after another in this process by default, or
on a Dask cluster through the ``task_map`` argument (:mod:`riskstream.cluster`,
``riskstream backtest var --cluster``); the results are the same either way.

**Units.** Returns are daily log returns (decimal) of a unit long position, so the P&L of
day :math:`t` is :math:`r_t` and VaR/ES are fractions of the position's value. A series in
other units (a portfolio's P&L in currency) is divided by the standard deviation of its
first window before fitting, and the forecasts multiplied back: VaR and ES are positively
homogeneous, and the GARCH optimiser is scale-sensitive. The scale uses the first window
only, so no forecast sees the future.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from scipy import stats

from riskstream.backtest.es_tests import empirical_tail_quantiles, tail_levels
from riskstream.backtest.inputs import check_level, check_series
from riskstream.backtest.validation import ForecastRun
from riskstream.core.errors import InputError

MODELS = ("hs", "fhs", "garch-t", "ewma", "mc")
TAIL_LEVELS = 64  # tail quantile grid per forecast (null of the Acerbi-Székely tests)
FRTB_LEVELS = (0.99, 0.975)  # VaR levels of the FRTB desk backtest (MAR32.5)
DAYS_PER_TASK = 250  # a block of forecast days per task (about a trading year)

# ``task_map(fn, items, shared)``: fn(shared, item) for every item, results in item order
# (riskstream.cluster.TaskMap; local by default).
TaskMapLike = Callable[[Callable[[Any, Any], Any], Sequence[Any], Any], list[Any]]


class Forecaster(Protocol):
    """One model in a walk-forward: ``forecast(t)`` uses ``returns[:t]`` only."""

    def forecast(self, t: int) -> tuple[np.ndarray, float, np.ndarray]:
        """VaR at (confidence, 0.99, 0.975), ES at confidence (positive losses) and the tail
        quantile grid (K,) for day ``t``."""
        ...


class _ScenarioForecaster:
    """VaR/ES from a day's scenario distribution (hs, fhs, mc)."""

    def __init__(self, returns, window, confidence, refit_every, n_scenarios, seed, name):
        self.returns = returns
        self.window = window
        self.confidence = confidence
        self.refit_every = refit_every
        self.n_scenarios = n_scenarios
        self.seed = seed
        self.name = name
        self.model = None
        self.fitted_at = -1
        self.last_seen = -1

    def _scenarios(self, t: int) -> np.ndarray:
        from riskstream.models import scenario_generator

        history = self.returns[t - self.window : t, None]
        if self.name == "hs":
            model = scenario_generator("hs").fit(history)
            return model.generate(self.window, 1)[:, 0]
        if self.model is None or t - self.fitted_at >= self.refit_every:
            # One series has no cross-section: any copula's one-dimensional margin is
            # uniform, so MC uses the Gaussian copula, which has nothing to estimate.
            params = {"copula": "gaussian"} if self.name == "mc" else {}
            self.model = scenario_generator(self.name, **params).fit(history)
            self.fitted_at = self.last_seen = t
        while self.last_seen < t:  # filter the days since the last forecast, params fixed
            self.model.update(self.returns[self.last_seen : self.last_seen + 1])
            self.last_seen += 1
        return self.model.generate(self.n_scenarios, 1, self.seed + t)[:, 0]

    def forecast(self, t: int) -> tuple[np.ndarray, float, np.ndarray]:
        from riskstream.risk.measures import var_es_from_pnl

        scenarios = self._scenarios(t)
        var, es = var_es_from_pnl(scenarios, self.confidence)
        frtb = [var_es_from_pnl(scenarios, level)[0] for level in FRTB_LEVELS]
        tail = empirical_tail_quantiles(scenarios[None, :], self.confidence)[0]
        return np.array([var, *frtb]), es, tail


class _GarchTForecaster:
    """Parametric GARCH(1,1)-t: closed-form VaR/ES at tomorrow's volatility.

    With standardised Student-t innovations (unit variance, :math:`\\nu` degrees of
    freedom), :math:`s = \\sqrt{(\\nu-2)/\\nu}` and :math:`t_\\alpha = t_\\nu^{-1}(\\alpha)`
    (McNeil, Frey & Embrechts, *Quantitative Risk Management*, 2nd ed., ex. 2.15):

    .. math::
        \\mathrm{VaR} = -\\mu - \\sigma s\\, t_\\alpha, \\qquad
        \\mathrm{ES} = -\\mu + \\sigma s\\,
            \\frac{f_\\nu(t_\\alpha)}{\\alpha} \\frac{\\nu + t_\\alpha^2}{\\nu - 1}.
    """

    def __init__(self, returns, window, confidence, refit_every):
        self.returns = returns
        self.window = window
        self.confidence = confidence
        self.refit_every = refit_every
        self.model = None
        self.fitted_at = -1
        self.last_seen = -1
        self.u = tail_levels(confidence, TAIL_LEVELS)

    def forecast(self, t: int) -> tuple[np.ndarray, float, np.ndarray]:
        from riskstream.models import GarchPanel

        if self.model is None or t - self.fitted_at >= self.refit_every:
            self.model = GarchPanel(dist="t").fit(self.returns[t - self.window : t, None])
            self.fitted_at = self.last_seen = t
            self._standardised_quantiles(float(self.model.nu_[0]))
        while self.last_seen < t:
            self.model.update(self.returns[self.last_seen : self.last_seen + 1])
            self.last_seen += 1
        mu = float(self.model.mu_[0]) / self.model.scale_
        sigma = float(self.model.next_volatility_[0])
        return -mu - sigma * self.q_var, -mu + sigma * self.es_std, mu + sigma * self.q_tail

    def _standardised_quantiles(self, nu: float) -> None:
        """Quantiles and ES of the unit-variance t(nu), fixed until the next refit."""
        s = np.sqrt((nu - 2.0) / nu)
        alpha = 1.0 - self.confidence
        t_alpha = stats.t.ppf(alpha, nu)
        self.q_var = s * stats.t.ppf(1.0 - np.array([self.confidence, *FRTB_LEVELS]), nu)
        self.es_std = float(s * stats.t.pdf(t_alpha, nu) / alpha * (nu + t_alpha**2) / (nu - 1))
        self.q_tail = s * stats.t.ppf(self.u, nu)


class _EWMAForecaster:
    """RiskMetrics EWMA volatility with normal, zero-mean VaR/ES."""

    def __init__(self, returns, window, confidence, lam: float = 0.94, origin: int | None = None):
        self.returns = returns
        self.window = window
        self.confidence = confidence
        self.lam = lam
        # The first forecast day of the walk: the variance starts from the window before it
        # and is carried daily from there, so a block starting later replays the recursion.
        self.origin = window if origin is None else origin
        self.model = None
        self.last_seen = -1
        self.z = stats.norm.ppf(tail_levels(confidence, TAIL_LEVELS))

    def forecast(self, t: int) -> tuple[np.ndarray, float, np.ndarray]:
        from riskstream.models import EWMACovariance
        from riskstream.risk.measures import normal_var_es

        if self.model is None:
            start = self.origin
            self.model = EWMACovariance(self.lam).fit(self.returns[start - self.window : start])
            self.last_seen = start
        while self.last_seen < t:
            self.model.update(self.returns[self.last_seen : self.last_seen + 1])
            self.last_seen += 1
        sigma = float(self.model.volatility_[0])
        var, es = normal_var_es(0.0, sigma, self.confidence)
        frtb = [normal_var_es(0.0, sigma, level)[0] for level in FRTB_LEVELS]
        return np.array([var, *frtb]), es, sigma * self.z


def make_forecaster(
    name: str,
    returns: np.ndarray,
    window: int,
    confidence: float,
    refit_every_days: int = 20,
    n_scenarios: int = 2000,
    seed: int = 0,
    ewma_lambda: float = 0.94,
) -> Forecaster:
    """Build the walk-forward forecaster of model ``name`` (one of :data:`MODELS`);
    ``ewma_lambda`` is the decay of ``ewma`` (``[models] ewma_lambda``)."""
    if name in ("hs", "fhs", "mc"):
        return _ScenarioForecaster(
            returns, window, confidence, refit_every_days, n_scenarios, seed, name
        )
    if name == "garch-t":
        return _GarchTForecaster(returns, window, confidence, refit_every_days)
    if name == "ewma":
        return _EWMAForecaster(returns, window, confidence, ewma_lambda)
    raise InputError("models", name, f"one of {', '.join(MODELS)}")


def walk_forward(
    returns: np.ndarray,
    dates: np.ndarray,
    model: str,
    *,
    confidence: float = 0.99,
    window: int = 500,
    refit_every_days: int = 20,
    n_scenarios: int = 2000,
    seed: int = 0,
    ewma_lambda: float = 0.94,
    days_per_task: int = DAYS_PER_TASK,
    task_map: TaskMapLike | None = None,
) -> ForecastRun:
    """Walk one model forward over a return series.

    Parameters
    ----------
    returns : ndarray of shape (n_obs,)
        Daily log returns (or P&L; see the module notes on units), oldest first.
    dates : ndarray of shape (n_obs,)
        The date of each return.
    model : str
        One of :data:`MODELS`.
    confidence : float, default 0.99
    window : int, default 500
        Estimation window in days (at least 100; GARCH needs a few hundred).
    refit_every_days : int, default 20
        Re-estimation interval of the GARCH-based models (filtered daily in between).
    n_scenarios : int, default 2000
        Scenarios per day for ``fhs`` and ``mc``.
    seed : int, default 0
        Day ``t`` uses seed ``seed + t``: reproducible and independent across days.
    ewma_lambda : float, default 0.94
        Decay factor of the ``ewma`` model (RiskMetrics' daily 0.94).
    days_per_task : int, default 250
        Forecast days per task, rounded up to whole refit intervals (see the module notes:
        the results do not depend on it, only how finely the work spreads).
    task_map : callable, optional
        Runs the blocks (:class:`riskstream.cluster.TaskMap`, which also fixes the BLAS
        thread count, so its figures do not depend on the machine's cores); default here,
        in order, with the process's BLAS threads.

    Returns
    -------
    ForecastRun
        Forecasts for days ``window .. n_obs - 1``.
    """
    return walk_forward_models(
        returns,
        dates,
        [model],
        confidence=confidence,
        window=window,
        refit_every_days=refit_every_days,
        n_scenarios=n_scenarios,
        seed=seed,
        ewma_lambda=ewma_lambda,
        days_per_task=days_per_task,
        task_map=task_map,
    )[0]


def walk_forward_models(
    returns: np.ndarray,
    dates: np.ndarray,
    models: Sequence[str],
    *,
    confidence: float = 0.99,
    window: int = 500,
    refit_every_days: int = 20,
    n_scenarios: int = 2000,
    seed: int = 0,
    ewma_lambda: float = 0.94,
    days_per_task: int = DAYS_PER_TASK,
    task_map: TaskMapLike | None = None,
) -> list[ForecastRun]:
    """:func:`walk_forward` for several models over the same days: every (model, block of
    days) is one task of the same ``task_map`` call, so a cluster spreads all of them."""
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise InputError("models", ",".join(models), f"a list of {', '.join(MODELS)}")
    x = check_series(returns, "returns")
    c = check_level(confidence)
    day = np.asarray(dates)
    if day.shape != x.shape:
        raise InputError("dates", f"{day.size} dates", f"one date per return ({x.size})")
    if not 100 <= window < x.size:
        raise InputError("window", window, f"a number of days in [100, {x.size - 1}]")
    if refit_every_days < 1:
        raise InputError("refit_every_days", refit_every_days, "a whole number of days >= 1")
    if days_per_task < 1:
        raise InputError("days_per_task", days_per_task, "a whole number of days >= 1")
    scale = float(np.std(x[:window], ddof=1)) or 1.0
    params = {
        "returns": x / scale,
        "window": window,
        "confidence": c,
        "refit_every_days": refit_every_days,
        "n_scenarios": n_scenarios,
        "seed": seed,
        "ewma_lambda": ewma_lambda,
    }
    blocks = forecast_blocks(window, x.size, refit_every_days, days_per_task)
    tasks = [(m, start, stop) for m in models for start, stop in blocks]
    if task_map is None:
        results = [_forecast_block(params, task) for task in tasks]
    else:
        results = task_map(_forecast_block, tasks, params)
    runs = []
    for k, m in enumerate(models):
        part = results[k * len(blocks) : (k + 1) * len(blocks)]
        var = np.concatenate([p[0] for p in part])
        runs.append(
            ForecastRun(
                model=m,
                confidence=c,
                dates=day[window:],
                pnl=x[window:],
                var=var[:, 0] * scale,
                es=np.concatenate([p[1] for p in part]) * scale,
                tail_quantiles=np.concatenate([p[2] for p in part]) * scale,
                var_99=var[:, 1] * scale,
                var_975=var[:, 2] * scale,
                fit_seconds=sum(p[3] for p in part),  # compute time, wherever it ran
            )
        )
    return runs


def forecast_blocks(
    window: int, n_obs: int, refit_every_days: int, days_per_task: int = DAYS_PER_TASK
) -> list[tuple[int, int]]:
    """The forecast days ``window .. n_obs - 1`` cut into ``[start, stop)`` blocks that each
    start on a refit day: ``days_per_task`` rounded up to a multiple of ``refit_every_days``
    (so a block's first forecast re-estimates, as the serial walk does on that day)."""
    step = refit_every_days * max(1, math.ceil(days_per_task / refit_every_days))
    return [(t, min(t + step, n_obs)) for t in range(window, n_obs, step)]


def _forecast_block(
    params: dict[str, Any], task: tuple[str, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One task: model ``task[0]``'s forecasts of days ``task[1] .. task[2] - 1``, by a new
    forecaster (see the module notes: identical to the serial walk's). Returns VaR at
    (confidence, 0.99, 0.975) (n, 3), ES (n,), tail quantiles (n, K) in scaled units, and
    the seconds it took. ``params`` is shared by every task and only read."""
    model, start, stop = task
    forecaster = make_forecaster(
        model,
        params["returns"],
        params["window"],
        params["confidence"],
        params["refit_every_days"],
        params["n_scenarios"],
        params["seed"],
        params["ewma_lambda"],
    )
    began = time.perf_counter()
    var = np.empty((stop - start, 1 + len(FRTB_LEVELS)))
    es = np.empty(stop - start)
    tail = np.empty((stop - start, TAIL_LEVELS))
    for i, t in enumerate(range(start, stop)):
        var[i], es[i], tail[i] = forecaster.forecast(t)
    return var, es, tail, time.perf_counter() - began
