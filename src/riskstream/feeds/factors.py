"""The simulator's factor model: what drives each instrument, and how drivers co-move.

Every non-option instrument maps to a **risk driver**, a latent state that the market model
moves each step; instruments that are the same risk share one (every expiry of ``ES`` moves
with the one S&P 500 driver; an FX pair's spot and forwards with the pair's driver):

==========  ==========================  ============================================
class       driver                      units of the driver
==========  ==========================  ============================================
equity      its own                     log price
future      its underlying (``sector``)  log price of the curve (parallel in logs)
fx          its pair (base, quote)      log spot
bond        its own                     yield change (decimal)
option      none: priced from its underlying with the volatility surface
==========  ==========================  ============================================

Driver moves follow a linear factor model (Ross 1976 APT; the structure of commercial risk
models such as Barra and Axioma):

.. math::
    dz_d = \\sum_k B_{dk}\\, dF_k + \\sigma^\\varepsilon_d\\, dW_d, \\qquad
    dF_k = \\sigma_k\\, dW_k \\ (+ \\text{drift, jumps}),

with independent factors, so the model's covariance of driver moves per year is
:math:`\\Sigma = B\\,\\mathrm{diag}(\\sigma_k^2)\\,B^\\top
+ \\mathrm{diag}(\\sigma^{\\varepsilon 2})`
(regimes scale the two parts, :meth:`FactorModel.covariance`). Factors:

* ``market`` — the global equity market; every risky asset loads on it (equities with a beta,
  commodities 0.3, currencies with a risk-on beta, bond yields: flight to quality for
  developed sovereigns, the opposite for emerging ones and credit);
* ``sector:<GICS>`` and ``country:<CC>`` — equity industry and country factors;
* ``commodity:<group>`` — energy, metals, agriculture;
* ``fx:<CCY>`` — log USD value of each currency (USD is the numeraire); a pair base/quote
  loads +1 on its base and -1 on its quote;
* ``rates:level``, ``rates:slope``, ``rates:curvature`` — global yield-curve factors with
  Nelson-Siegel loadings (Nelson & Siegel 1987; Diebold & Li 2006), plus ``rates:<CCY>`` a
  local level per currency;
* ``credit:IG``, ``credit:HY`` — corporate spread factors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from riskstream.feeds.markets import FUTURE_ROOTS, RATINGS, SECTORS

FACTOR_VOLS: dict[str, float] = {
    "market": 0.13,
    "sector": 0.08,
    "country": 0.06,
    "commodity:energy": 0.25,
    "commodity:metals": 0.14,
    "commodity:agriculture": 0.16,
    "rates:level": 0.0060,
    "rates:slope": 0.0050,
    "rates:curvature": 0.0040,
    "rates:local": 0.0040,
    "credit:IG": 0.0025,
    "credit:HY": 0.0100,
}
"""Annual volatility of each factor (log-price units, or yield units for rates and credit):
equity factor levels in the range of MSCI world / sector / country index volatilities,
rate factor volatilities of 40-60 bp a year."""

FX_VOLS: dict[str, float] = {"HKD": 0.004, "CNH": 0.04, "TRY": 0.15}
"""Annual volatility of a currency's USD value where it departs from its group's
(``FX_VOL_G10``, ``FX_VOL_EM``): the Hong Kong dollar is pegged, the renminbi managed."""
FX_VOL_G10, FX_VOL_EM = 0.075, 0.10
G10 = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK"})

FX_RISK_BETA: dict[str, float] = {
    "JPY": -0.25, "CHF": -0.15, "EUR": 0.05, "GBP": 0.10, "CAD": 0.15, "SEK": 0.15,
    "NOK": 0.20, "AUD": 0.30, "NZD": 0.30, "HKD": 0.0, "SGD": 0.12, "CNH": 0.08, "KRW": 0.25,
    "INR": 0.10, "MXN": 0.40, "BRL": 0.40, "ZAR": 0.45, "TRY": 0.30, "PLN": 0.25,
}  # fmt: skip
"""Loading of each currency's USD value on the equity market factor: safe havens (JPY, CHF)
rise when equities fall, high-carry and commodity currencies fall — the carry-crash pattern
of Brunnermeier, Nagel & Pedersen (2008)."""

BOND_MARKET_BETA = {"developed": 0.02, "emerging": -0.04}
"""Yield move per unit of market log return: developed sovereigns rally when equities fall
(a 7.5 % fall takes 15 bp off yields), emerging ones sell off."""
CREDIT_MARKET_BETA = {"IG": 0.03, "HY": 0.12}
"""Credit-spread widening per unit of market fall (7.5 % fall: IG +22 bp, HY +90 bp)."""
EMERGING_SOVEREIGNS = frozenset({"MX", "BR", "ZA"})

NS_TAU_YEARS = 2.0
"""Nelson-Siegel decay time of the slope and curvature loadings (curvature peaks near
1.8 x tau = 3.6 years, as Diebold & Li's lambda = 0.0609 per month peaks it at 30 months)."""


def sovereign_market_beta(country: str) -> float:
    """Yield move of ``country``'s government curve per unit of market log return
    (:data:`BOND_MARKET_BETA`: emerging issuers sell off with equities, developed ones rally)."""
    return BOND_MARKET_BETA["emerging" if country in EMERGING_SOVEREIGNS else "developed"]


def nelson_siegel_loadings(years: np.ndarray, tau: float = NS_TAU_YEARS) -> np.ndarray:
    """Level, slope and curvature loadings of yields at maturities ``years``.

    .. math::
        L = 1, \\quad S = \\frac{1 - e^{-x}}{x}, \\quad C = \\frac{1 - e^{-x}}{x} - e^{-x},
        \\qquad x = T / \\tau

    (Nelson & Siegel 1987; Diebold & Li 2006, eq. 2). Returns shape ``(len(years), 3)``.
    """
    x = np.maximum(np.asarray(years, dtype=np.float64), 1e-6) / tau
    slope = -np.expm1(-x) / x
    return np.stack([np.ones_like(x), slope, slope - np.exp(-x)], axis=-1)


@dataclass(frozen=True)
class FactorModel:
    """Drivers, their factor loadings and volatilities.

    Attributes
    ----------
    factor_names : tuple of str, length K
    factor_vols : ndarray of shape (K,)
        Annual volatility of each factor.
    loadings : ndarray of shape (D, K)
        Loading of each driver on each factor.
    idio_vols : ndarray of shape (D,)
        Annual idiosyncratic volatility of each driver.
    driver_of : ndarray of int64, shape (N,)
        Driver of each instrument; -1 for options.
    is_yield : ndarray of bool, shape (D,)
        True where the driver is a yield (bonds), False for a log price.
    """

    factor_names: tuple[str, ...]
    factor_vols: np.ndarray
    loadings: np.ndarray
    idio_vols: np.ndarray
    driver_of: np.ndarray
    is_yield: np.ndarray

    @property
    def n_drivers(self) -> int:
        return self.loadings.shape[0]

    def factor(self, name: str) -> int:
        """Index of the factor called ``name``."""
        return self.factor_names.index(name)

    def covariance(self, factor_mult: float = 1.0, idio_mult: float = 1.0) -> np.ndarray:
        """Model covariance of driver moves per year, shape (D, D), with the factor and
        idiosyncratic volatilities scaled by ``factor_mult`` and ``idio_mult`` (a regime)."""
        scaled = self.loadings * (self.factor_vols * factor_mult)
        cov = scaled @ scaled.T
        cov[np.diag_indices_from(cov)] += (self.idio_vols * idio_mult) ** 2
        return cov

    def driver_vols(self, factor_mult: float = 1.0, idio_mult: float = 1.0) -> np.ndarray:
        """Total annual volatility of each driver, shape (D,)."""
        systematic = ((self.loadings * (self.factor_vols * factor_mult)) ** 2).sum(axis=1)
        return np.sqrt(systematic + (self.idio_vols * idio_mult) ** 2)


def build_factor_model(
    instruments: pl.DataFrame,
    as_of: dt.date,
    rng: np.random.Generator,
    equity_vols: np.ndarray | None = None,
) -> FactorModel:
    """The factor model of a universe's instruments (see the module docstring).

    Parameters
    ----------
    instruments : polars.DataFrame
        The universe's instrument table (:data:`riskstream.core.INSTRUMENT_SCHEMA`).
    as_of : datetime.date
        Date the bond tenors (and so their curve loadings) count from.
    rng : numpy.random.Generator
        Draws the equity betas (uniform 0.7 to 1.3) and volatility dispersion.
    equity_vols : ndarray of shape (N,), optional
        Total annual volatility wanted for each equity (NaN: use its sector's typical
        volatility). The simulator passes the level implied by the universe's option prices,
        so realised and implied volatility agree.
    """
    n = instruments.height
    asset = instruments["asset_class"].to_numpy()
    sector = instruments["sector"].fill_null("").to_numpy()
    country = instruments["country"].to_numpy()
    currency = instruments["currency"].to_numpy()
    base = instruments["base_currency"].fill_null("").to_numpy()
    rating = instruments["rating"].fill_null("").to_list()
    maturity = instruments["maturity"].to_list()
    ids = np.arange(n)

    keys = np.full(n, "", dtype=object)
    keys[asset == "equity"] = [f"equity:{i}" for i in ids[asset == "equity"]]
    keys[asset == "future"] = ["future:" + s for s in sector[asset == "future"]]
    keys[asset == "fx"] = [f"fx:{base[i]}{currency[i]}" for i in ids[asset == "fx"]]
    keys[asset == "bond"] = [f"bond:{i}" for i in ids[asset == "bond"]]
    has_driver = asset != "option"
    driver_keys, inverse = np.unique(keys[has_driver].astype(str), return_inverse=True)
    driver_of = np.full(n, -1, dtype=np.int64)
    driver_of[has_driver] = inverse
    first_instrument = np.zeros(len(driver_keys), dtype=np.int64)
    first_instrument[inverse[::-1]] = ids[has_driver][::-1]  # lowest id of each driver

    names: list[str] = ["market"]
    vols: list[float] = [FACTOR_VOLS["market"]]
    index: dict[str, int] = {"market": 0}

    def factor(name: str, vol: float) -> int:
        if name not in index:
            index[name] = len(names)
            names.append(name)
            vols.append(vol)
        return index[name]

    rows: list[tuple[int, int, float]] = []  # (driver, factor, loading)
    idio = np.zeros(len(driver_keys))
    is_yield = np.zeros(len(driver_keys), dtype=bool)
    sector_vol = dict(SECTORS.select("sector", "vol").iter_rows())
    roots = {r["underlying"]: r for r in FUTURE_ROOTS.iter_rows(named=True)}
    for level_name in ("rates:level", "rates:slope", "rates:curvature"):
        factor(level_name, FACTOR_VOLS[level_name])

    for d, i in enumerate(first_instrument):
        cls = asset[i]
        if cls == "equity":
            beta = rng.uniform(0.7, 1.3)
            total = np.nan if equity_vols is None else equity_vols[i]
            if not np.isfinite(total):
                total = sector_vol.get(sector[i], 0.25) * np.exp(rng.normal(0.0, 0.15))
            rows.append((d, 0, beta))
            systematic = (beta * FACTOR_VOLS["market"]) ** 2
            if sector[i]:
                rows.append((d, factor(f"sector:{sector[i]}", FACTOR_VOLS["sector"]), 1.0))
                systematic += FACTOR_VOLS["sector"] ** 2
            rows.append((d, factor(f"country:{country[i]}", FACTOR_VOLS["country"]), 1.0))
            systematic += FACTOR_VOLS["country"] ** 2
            idio[d] = np.sqrt(max(total**2 - systematic, (0.3 * total) ** 2))
        elif cls == "future":
            kind, _, underlying = sector[i].partition(":")
            root = roots.get(underlying)
            total = root["vol"] if root else 0.20
            if kind == "commodity":
                group = root["group"] if root else "energy"
                name = f"commodity:{group}"
                k = factor(name, FACTOR_VOLS.get(name, 0.2))
                rows.append((d, k, 1.0))
                rows.append((d, 0, 0.3))
                systematic = vols[k] ** 2 + (0.3 * FACTOR_VOLS["market"]) ** 2
            else:  # an equity index: the market plus its country
                beta = min(1.3, total / 0.15)
                rows.append((d, 0, beta))
                rows.append((d, factor(f"country:{country[i]}", FACTOR_VOLS["country"]), 1.0))
                systematic = (beta * FACTOR_VOLS["market"]) ** 2 + FACTOR_VOLS["country"] ** 2
            idio[d] = np.sqrt(max(total**2 - systematic, (0.15 * total) ** 2))
        elif cls == "fx":
            market_beta = 0.0
            for ccy, sign in ((base[i], 1.0), (currency[i], -1.0)):
                if ccy == "USD":
                    continue
                vol = FX_VOLS.get(ccy, FX_VOL_G10 if ccy in G10 else FX_VOL_EM)
                rows.append((d, factor(f"fx:{ccy}", vol), sign))
                market_beta += sign * FX_RISK_BETA.get(ccy, 0.1)
            rows.append((d, 0, market_beta))
            idio[d] = 0.01
        else:  # bond: a yield driver
            is_yield[d] = True
            years = max((maturity[i] - as_of).days / 365.0, 0.01) if maturity[i] else 5.0
            level, slope, curvature = nelson_siegel_loadings(np.array([years]))[0]
            rows.append((d, index["rates:level"], level))
            rows.append((d, index["rates:slope"], slope))
            rows.append((d, index["rates:curvature"], curvature))
            local = factor(f"rates:{currency[i]}", FACTOR_VOLS["rates:local"])
            rows.append((d, local, 1.0))
            if sector[i].startswith("corporate"):
                grade = "IG" if rating[i] in RATINGS else "HY"
                rows.append((d, factor(f"credit:{grade}", FACTOR_VOLS[f"credit:{grade}"]), 1.0))
                beta = BOND_MARKET_BETA["developed"] - CREDIT_MARKET_BETA[grade]
                idio[d] = 0.0030 if grade == "IG" else 0.0060
            else:
                beta = sovereign_market_beta(country[i])
                idio[d] = 0.0015 if country[i] in EMERGING_SOVEREIGNS else 0.0008
            rows.append((d, 0, beta))

    loadings = np.zeros((len(driver_keys), len(names)))
    for d, k, value in rows:
        loadings[d, k] += value
    return FactorModel(
        factor_names=tuple(names),
        factor_vols=np.array(vols),
        loadings=loadings,
        idio_vols=idio,
        driver_of=driver_of,
        is_yield=is_yield,
    )
