"""The engine's reference data: what is fixed about every instrument for the engine's life.

One :class:`InstrumentTable` is built from the universe when the engine is built and never
written after (its arrays are read-only): identifiers and contract terms (multiplier,
strike, right, expiry, coupon), the currency codes, and the option structure every part of
the engine indexes by — which instruments are options, their position in the option
arrays (``opt_index``), their underlying's slot (``opt_owner`` into ``und_ids``) and the
spot and implied-vol risk factors of each underlying (``u_spot_col``, ``u_vol_col``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.core.fx import split_pair
from riskstream.core.instruments import ASSET_CLASSES, Universe
from riskstream.risk.config import RiskConfig
from riskstream.risk.factors import ASSET_CODE, FactorSpace, epoch_days

EQUITY, FUTURE, OPTION, FX, BOND = (ASSET_CODE[a] for a in ASSET_CLASSES)


class InstrumentTable:
    """Static per-instrument arrays of shape (n,), and per-option / per-underlying ones.

    Parameters
    ----------
    universe : Universe
    space : FactorSpace
        The universe's risk factors (:func:`riskstream.risk.factors.build_factor_space`).
    config : RiskConfig
        ``rate`` and ``dividend_yield`` where reference data gives none.
    rates : ndarray of shape (n,), optional
        Continuously compounded rate to each option's expiry; NaN or absent: ``config.rate``.
    """

    def __init__(
        self,
        universe: Universe,
        space: FactorSpace,
        config: RiskConfig,
        rates: np.ndarray | None = None,
    ) -> None:
        inst = universe.instruments
        self.n = n = inst.height
        self.symbol = np.asarray(inst["symbol"].to_list(), dtype=object)
        self.asset_class = np.array([ASSET_CODE[a] for a in inst["asset_class"].to_list()])
        self.multiplier = inst["multiplier"].to_numpy().astype(np.float64)
        self.adv = inst["adv"].to_numpy().astype(np.float64)
        self.spread_bps = inst["spread_bps"].to_numpy().astype(np.float64)
        self.underlying = inst["underlying_id"].fill_null(-1).to_numpy().astype(np.int64)
        self.strike = inst["strike"].fill_null(np.nan).to_numpy().astype(np.float64)
        self.is_call = (inst["right"] == "C").fill_null(False).to_numpy()
        self.coupon = inst["coupon"].fill_null(0.0).to_numpy().astype(np.float64)
        self.freq = inst["coupon_frequency"].fill_null(1).to_numpy().astype(np.float64)
        self.expiry_days = epoch_days(inst["expiry"])
        self.maturity_days = epoch_days(inst["maturity"])
        self.currencies = sorted(set(inst["currency"].to_list()))
        self.ccy_code = np.searchsorted(self.currencies, inst["currency"].to_numpy())
        self.currency = inst["currency"].to_list()
        fx = universe.fx_to_base
        self.fx_reference = {c: float(fx[c]) for c in self.currencies}
        # FX spot instruments (pairs without expiry) quote every currency's rate to base
        pair = np.array([split_pair(str(sym)) is not None for sym in self.symbol], dtype=bool)
        no_expiry = inst["expiry"].is_null().to_numpy()
        self.is_fx_spot = (self.asset_class == FX) & no_expiry & pair
        self.fx_spot_ids = np.flatnonzero(self.is_fx_spot)
        # Early exercise and dividends: an option on a stock or index takes its underlying's
        # ``dividend_yield`` column where given, else ``config.dividend_yield``.
        if "exercise" in inst.columns:
            self.american = (inst["exercise"] == "american").fill_null(False).to_numpy()
        else:
            self.american = np.zeros(n, dtype=bool)
        self.dividend_yield = np.full(n, config.dividend_yield)
        if "dividend_yield" in inst.columns:
            dy = inst["dividend_yield"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            self.dividend_yield = np.where(np.isfinite(dy), dy, config.dividend_yield)
        r = np.full(n, config.rate) if rates is None else np.asarray(rates, dtype=np.float64)
        if r.shape != (n,):
            raise InputError("rates", f"shape {r.shape}", f"({n},)")
        self.rate = np.where(np.isfinite(r), r, config.rate)

        # ---- options and their underlyings
        self.opt_ids = np.flatnonzero(self.asset_class == OPTION)
        self.opt_index = np.full(n, -1, dtype=np.int64)
        self.opt_index[self.opt_ids] = np.arange(self.opt_ids.size)
        und_inst = self.underlying[self.opt_ids]
        self.und_ids, owner = np.unique(und_inst, return_inverse=True)
        self.opt_owner = owner.astype(np.int64)
        # each underlying's options (ascending option slots): found once, not by a scan of
        # every option per moved underlying in each refresh
        by_owner = np.argsort(self.opt_owner, kind="stable")
        bounds = np.searchsorted(self.opt_owner[by_owner], np.arange(self.und_ids.size + 1))
        self.options_of: tuple[np.ndarray, ...] = tuple(
            by_owner[bounds[k] : bounds[k + 1]] for k in range(self.und_ids.size)
        )
        for opts in self.options_of:
            opts.flags.writeable = False
        self.on_future = np.array(
            [u >= 0 and self.asset_class[u] == FUTURE for u in und_inst], dtype=bool
        )
        n_u = self.und_ids.size
        self.u_spot_col = np.array(
            [space.spot_factor[u] if 0 <= u < n else -1 for u in self.und_ids], dtype=np.int64
        )
        self.u_vol_col = np.array(
            [space.vol_factor[self.opt_ids[self.options_of[k][0]]] for k in range(n_u)],
            dtype=np.int64,
        )
        und_ok = (und_inst >= 0) & (und_inst < n)
        self.opt_q = np.where(
            und_ok, self.dividend_yield[np.clip(und_inst, 0, max(n - 1, 0))], config.dividend_yield
        )
        self.opt_american = self.american[self.opt_ids]
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    @property
    def n_underlyings(self) -> int:
        return int(self.und_ids.size)
