"""The answers of the file and API contracts, from named arrays (one place for both).

``riskstream optimise`` / ``riskstream hedge ratio`` read their CSV files into arrays and
``POST /api/v1/portfolio/*`` reads its JSON body into the same arrays; both call these
functions, so the command line and the API answer with the same fields.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from riskstream.core.errors import InputError
from riskstream.portfolio.black_litterman import black_litterman, regime_views, view_uncertainty
from riskstream.portfolio.estimation import (
    check_covariance,
    covariance,
    expected_returns,
    returns_from_prices,
)
from riskstream.portfolio.hedging import min_variance_hedge
from riskstream.portfolio.optimise import Constraints, efficient_frontier, optimise
from riskstream.portfolio.report import risk_figures
from riskstream.portfolio.risk_parity import (
    levered_risk_parity,
    risk_budget_weights,
    risk_contributions,
)

OBJECTIVES: tuple[str, ...] = (
    "max-sharpe",
    "min-volatility",
    "erc",
    "efficient-risk",
    "efficient-return",
    "max-utility",
)


def _named(names: list[str], values: np.ndarray) -> dict[str, float]:
    return dict(zip(names, np.asarray(values, dtype=np.float64).tolist(), strict=True))


def check_objective(objective: str, field: str = "--objective") -> str:
    if objective not in OBJECTIVES:
        raise InputError(field, objective, f"one of {', '.join(OBJECTIVES)}")
    return objective


def optimise_prices(
    names: list[str],
    prices: np.ndarray,
    objective: str = "max-sharpe",
    risk_free: float = 0.0,
    max_weight: float = 1.0,
    long_short: bool = False,
    target_volatility: float | None = None,
    target_return: float | None = None,
    risk_aversion: float = 1.0,
    financing_spread: float = 0.0,
    frontier: int = 20,
    confidence: float = 0.99,
    periods_per_year: int = 252,
) -> dict[str, Any]:
    """Optimal weights of assets with daily ``prices`` (n_dates, n_assets), oldest first.

    Expected returns: compounded annualised means; covariance: sample × ``periods_per_year``;
    long-only, fully invested unless ``long_short``. Also the efficient frontier (mean-variance
    objectives), the risk contributions, the expected returns, and the daily historical VaR
    and ES of one unit of capital in the weights on the same returns.
    """
    check_objective(objective)
    r = returns_from_prices(prices, "prices")
    mu = expected_returns(r, "compounded", periods_per_year)
    sigma = covariance(r, "sample", periods_per_year)
    spec = Constraints(
        long_only=not long_short,
        min_weight=-max_weight if long_short else None,
        max_weight=max_weight,
    )
    out: dict[str, Any] = {"objective": objective, "observations": int(r.shape[0])}
    if objective == "erc":
        if target_volatility is not None:
            lev = levered_risk_parity(sigma, mu, target_volatility, risk_free, financing_spread)
            out.update(lev.as_dict(names))
            out["expected_return"] = lev.net_return
            w = lev.weights
        else:
            w = risk_budget_weights(sigma)
            ret, vol = float(mu @ w), float(np.sqrt(w @ sigma @ w))
            out.update(
                weights=_named(names, w),
                expected_return=ret,
                volatility=vol,
                sharpe=(ret - risk_free) / vol,
            )
    else:
        alloc = optimise(
            mu,
            sigma,
            objective.replace("-", "_"),  # type: ignore[arg-type]
            spec,
            risk_free,
            target_volatility=target_volatility,
            target_return=target_return,
            risk_aversion=risk_aversion,
        )
        out.update(alloc.as_dict(names))
        out["objective"] = objective
        w = alloc.weights
        if frontier >= 2:
            out["frontier"] = efficient_frontier(mu, sigma, spec, frontier).as_dict()
    out["risk_contributions"] = _named(names, risk_contributions(w, sigma))
    out["expected_returns"] = _named(names, mu)
    hist = risk_figures(r, w, confidence)  # one unit of capital, one day
    out["historical_var"], out["historical_es"] = hist.var, hist.es
    return out


def erc_from_covariance(names: list[str], cov: np.ndarray) -> dict[str, Any]:
    """Equal-risk-contribution weights of a covariance matrix."""
    w = risk_budget_weights(cov)
    return {
        "objective": "erc",
        "weights": _named(names, w),
        "risk_contributions": _named(names, risk_contributions(w, cov)),
    }


def black_litterman_named(
    names: list[str],
    cov: np.ndarray,
    market_weights: np.ndarray,
    picks: np.ndarray,
    q: np.ndarray,
    confidences: np.ndarray | None = None,
    delta: float = 2.5,
    tau: float = 0.05,
    regime_q: np.ndarray | None = None,
    regime_probabilities: np.ndarray | None = None,
) -> dict[str, Any]:
    """Black-Litterman prior, posterior and weights; Ω by Idzorek when confidences are
    given, else He-Litterman's.

    With ``regime_q`` (K regimes × k views: each regime's return for each view) and the
    detected ``regime_probabilities`` (K,), the views are the regime views of
    :func:`~riskstream.portfolio.black_litterman.regime_views`: their probability-weighted
    returns, with the regimes' disagreement added to Ω (``q`` is then ignored).
    """
    method = "idzorek" if confidences is not None else "he_litterman"
    omega: Any = method
    if regime_q is not None:
        if regime_probabilities is None:
            raise InputError("regime_probabilities", None, "the detected regime probabilities")
        base = view_uncertainty(
            check_covariance(cov), np.atleast_2d(picks), tau, method, confidences
        )  # type: ignore[arg-type]
        q, omega = regime_views(regime_q, regime_probabilities, base)
    res = black_litterman(cov, market_weights, picks, q, delta, tau, omega, confidences)
    out = res.as_dict(names)
    out.update(delta=delta, tau=tau, omega_method=method)
    if regime_q is not None:
        out["view_returns"] = np.asarray(q).tolist()
        out["regime_probabilities"] = np.asarray(regime_probabilities).tolist()
    return out


def hedge_ratio(
    spot_change: np.ndarray,
    futures_change: np.ndarray,
    exposure: float,
    contract_size: float,
    spot_price: float | None = None,
    futures_price: float | None = None,
) -> dict[str, Any]:
    """Hull's minimum-variance hedge ratio and contracts (tailed when prices are given)."""
    h = min_variance_hedge(
        spot_change, futures_change, exposure, contract_size, spot_price, futures_price
    )
    out = h.as_dict()
    out["observations"] = int(np.asarray(spot_change).shape[0])
    out["tailed"] = spot_price is not None
    return out
