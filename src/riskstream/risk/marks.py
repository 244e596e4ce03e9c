"""Live marks: each instrument's price, validity, per-unit value and sensitivities.

:class:`LiveMarks` holds the engine's working per-instrument arrays (base currency) and the
live FX rates; each refresh re-derives the touched rows (:meth:`LiveMarks.derive`) and the
snapshot builder freezes them into a :class:`~riskstream.risk.valuation.Valuation`.

Why an instrument is not valued is a ``uint8`` code of
:data:`~riskstream.risk.valuation.REASONS` (0: valued), so "which are valued" over 10,000
instruments is one vector comparison and freezing the record costs no Python loop.

Rows are written by two owners, never both for the same row: non-option rows here, option
rows' Greeks and model values by the option grids
(:class:`riskstream.risk.option_grids.OptionGrids`), which price them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from riskstream.core.errors import InputError
from riskstream.core.fx import rates_to_base
from riskstream.core.messages import FxRates
from riskstream.core.state import MarketState
from riskstream.pricing import bond_risk, bond_yield_from_price
from riskstream.risk.factors import FactorSpace, key_rate_table, key_rate_weights, year_fraction
from riskstream.risk.reference import BOND, EQUITY, FUTURE, FX, OPTION, InstrumentTable
from riskstream.risk.valuation import REASON_CODE, VALUED, Valuation

_R = REASON_CODE


@dataclass(frozen=True, slots=True)
class Derived:
    """What :meth:`LiveMarks.derive` re-derived for instruments ``ids``.

    ``lin_f``/``lin_s`` (len(ids), 3): the linear loadings (factor, base-currency sensitivity
    per unit relative move; -1 = none); ``was_valid``: validity before; ``opt_expiry``:
    years to expiry of the options among ``ids`` (0 if expired), in ``ids`` order.
    """

    ids: np.ndarray
    lin_f: np.ndarray
    lin_s: np.ndarray
    was_valid: np.ndarray
    opt_expiry: np.ndarray


class LiveMarks:
    """Working per-instrument state, shape (n,) each, base currency unless said.

    Attributes
    ----------
    price : price used (mid, else last), instrument currency; NaN when unknown.
    reason : uint8 codes of :data:`~riskstream.risk.valuation.REASONS` (0: valued).
    unit_value, unit_delta, unit_gamma, unit_vega, unit_dv01, unit_sigma : per unit.
    bond_yield : yield to maturity solved from each bond's price.
    fx : rate to base of each instrument's currency, live.
    fx_to_base : dict, every currency's live rate; fx_reference_currencies those no quote
        reaches (they keep the universe's reference rate); fx_updates : refreshes in which
        some rate moved.
    """

    def __init__(
        self, ref: InstrumentTable, space: FactorSpace, base_currency: str, market: MarketState
    ) -> None:
        self.ref = ref
        self.space = space
        self.base_currency = base_currency
        n = ref.n
        self._rate_table = key_rate_table(space, ref.currencies)
        self.price = np.full(n, np.nan)
        self.reason = np.zeros(n, dtype=np.uint8)
        self.unit_value = np.zeros(n)  # market value (futures: notional) per unit
        self.unit_delta = np.zeros(n)  # per unit relative move of the spot factor
        self.unit_gamma = np.zeros(n)
        self.unit_vega = np.zeros(n)  # per 1.00 of vol
        self.unit_dv01 = np.zeros(n)  # per basis point
        self.bond_yield = np.full(n, np.nan)
        # what each bond's yield was solved from (price, years to maturity) and its DV01 per
        # 100 face per unit of yield then: a bond derived again at both is not solved again
        self._solved_from = np.full((n, 2), np.nan)
        self._bond_dv01 = np.zeros(n)
        self.unit_sigma = np.zeros(n)  # daily price vol per unit
        # rates aggregated from public APIs (FxRates): they stand in for the universe's
        # reference rate of a currency no live quote reaches
        self.fx_published: dict[str, float] = {}
        self.fx_to_base, self.fx_reference_currencies = self.live_fx_rates(market)
        self.fx = np.array([self.fx_to_base[c] for c in ref.currency], dtype=np.float64)
        self.fx_updates = 0

    @property
    def valid(self) -> np.ndarray:
        """True where the instrument is valued."""
        return self.reason == VALUED

    def freeze(self, positions_version: int) -> Valuation:
        """The frozen record of the marks now (copies; no Python loop)."""
        return Valuation(
            price=self.price,
            unit_value=self.unit_value,
            unit_delta=self.unit_delta,
            unit_gamma=self.unit_gamma,
            unit_vega=self.unit_vega,
            unit_sigma=self.unit_sigma,
            fx=self.fx,
            reason=self.reason,
            positions_version=positions_version,
        )

    # ------------------------------------------------------------------ FX

    def live_fx_rates(self, market: MarketState) -> tuple[dict[str, float], tuple[str, ...]]:
        """Each currency's value in the base currency from the FX spot quotes of the market
        state (mid, else last; cross rates by the shortest chain,
        :func:`riskstream.core.fx.rates_to_base`), and the currencies left on their
        reference rates."""
        ref = self.ref
        ids = ref.fx_spot_ids
        mid, last = market.mid[ids], market.last[ids]
        px = np.where(np.isfinite(mid) & (mid > 0), mid, last)
        prices = {str(sym): float(p) for sym, p in zip(ref.symbol[ids], px, strict=True)}
        base = self.base_currency
        try:
            return rates_to_base(prices, ref.currencies, base), ()
        except InputError:  # some currency unreachable: it alone keeps its reference rate
            out, reference = {}, []
            for c in ref.currencies:
                try:
                    out[c] = rates_to_base(prices, [c], base)[c]
                except InputError:
                    out[c] = self.fx_published.get(c, ref.fx_reference[c])
                    reference.append(c)
            return out, tuple(reference)

    def publish_rates(self, message: FxRates) -> None:
        """Take FX rates aggregated from public APIs (:class:`FxRates`): each currency's
        value in the base currency through their pairs (cross rates by the shortest chain),
        used for the currencies no live quote reaches until the next publication. The next
        :meth:`follow_fx` with ``force`` applies them."""
        prices = message.pair_prices()
        for c in self.ref.currencies:
            try:
                self.fx_published[c] = rates_to_base(prices, [c], self.base_currency)[c]
            except InputError:  # the publication does not reach this currency
                continue

    def follow_fx(
        self, market: MarketState, changed: np.ndarray, force: bool = False
    ) -> np.ndarray | None:
        """Re-derive the live FX rates when an FX spot quote moved (or ``force``: new
        published rates); rescale every per-unit row of the currencies whose rate changed
        (each is linear in its rate).

        Returns the rate ratio per currency code (None when no rate moved): the other
        parts (linear loadings, option grids) rescale their rows by it."""
        ref = self.ref
        if not force and (ref.fx_spot_ids.size == 0 or not ref.is_fx_spot[changed].any()):
            return None
        rates, reference = self.live_fx_rates(market)
        new_by_code = np.array([rates[c] for c in ref.currencies])
        old_by_code = np.array([self.fx_to_base[c] for c in ref.currencies])
        self.fx_to_base, self.fx_reference_currencies = rates, reference
        moved = np.flatnonzero(new_by_code != old_by_code)
        if moved.size == 0:
            return None
        self.fx_updates += 1
        code_ratio = np.ones(len(ref.currencies))
        code_ratio[moved] = new_by_code[moved] / old_by_code[moved]
        ids = np.flatnonzero(np.isin(ref.ccy_code, moved))
        ratio = code_ratio[ref.ccy_code[ids]]
        self.fx[ids] = new_by_code[ref.ccy_code[ids]]
        for per_unit in (
            self.unit_value,
            self.unit_delta,
            self.unit_gamma,
            self.unit_vega,
            self.unit_dv01,
            self.unit_sigma,
        ):
            per_unit[ids] *= ratio
        return code_ratio

    # ------------------------------------------------------------------ derivation

    def _solve_yields(self, bonds: np.ndarray, years: np.ndarray) -> None:
        """Yield to maturity and DV01 of ``bonds`` at their prices now and ``years`` to
        maturity, solved (Newton, :func:`~riskstream.pricing.bond_yield_from_price`) only
        where either changed since the last solve: md re-sends a book whose sizes moved and
        price did not (about half the bonds a refresh re-derives at 500,000 events/s), and
        time to maturity moves once a day. Each bond's Newton iterates depend on its own
        inputs only, so the figures are the same bit for bit as solving all of them."""
        ref = self.ref
        price = self.price[bonds]
        again = ~(self._solved_from[bonds] == np.stack([price, years], axis=1)).all(axis=1)
        if not again.any():
            return
        b, p, t = bonds[again], price[again], years[again]
        y = bond_yield_from_price(p, ref.coupon[b], t, ref.freq[b])
        solved = np.isfinite(y)
        self.bond_yield[b] = y
        # -dP/dy per 100 face per unit of yield (DV01 is per basis point), 0 where unsolved
        y = np.where(solved, y, ref.coupon[b])
        self._bond_dv01[b] = bond_risk(y, ref.coupon[b], t, ref.freq[b]).dv01 * 1e4 * solved
        self._solved_from[b, 0], self._solved_from[b, 1] = p, t

    def derive(
        self,
        ids: np.ndarray,
        market: MarketState,
        as_of: dt.date,
        factor_vol: np.ndarray,
        implied_vol: np.ndarray,
    ) -> Derived:
        """Re-derive prices, validity, value and linear sensitivities of instruments ``ids``.

        Linear instruments (equities, futures, FX, bonds) get their loadings on their risk
        factors (spot; FX base and quote; key rates by maturity for bonds, from the yield
        solved from the price) and translation risk on their currency. Options get their
        validity and years to expiry here; their Greeks and model values come from the
        option grids. ``implied_vol`` (n,): the live vols (options' validity).
        """
        ref, space = self.ref, self.space
        was_valid = self.reason[ids] == VALUED
        mid, last = market.mid[ids], market.last[ids]
        price = np.where(np.isfinite(mid) & (mid > 0), mid, last)
        self.price[ids] = price
        ac = ref.asset_class[ids]
        reason = np.where(np.isfinite(price) & (price > 0), VALUED, _R["missing price"]).astype(
            np.uint8
        )
        m_fx = ref.multiplier[ids] * self.fx[ids]
        value = np.nan_to_num(price) * m_fx

        lin_f = np.full((ids.size, 3), -1, dtype=np.int64)
        lin_s = np.zeros((ids.size, 3))
        spot = space.spot_factor[ids]
        ccy = space.currency_factor[ids]
        linear = (ac == EQUITY) | (ac == FUTURE)
        lin_f[linear, 0] = spot[linear]
        lin_s[linear, 0] = value[linear]
        is_fx = ac == FX
        lin_f[is_fx, 0] = space.fx_base_factor[ids][is_fx]
        lin_s[is_fx, 0] = value[is_fx]
        lin_f[is_fx, 1] = space.fx_quote_factor[ids][is_fx]
        lin_s[is_fx, 1] = -value[is_fx]
        # Translation risk: a foreign-currency holding's value moves with its currency. A
        # future has no value to translate (its daily P&L is settled), so none for futures.
        translated = ~is_fx & (ac != FUTURE)
        lin_f[translated, 2] = ccy[translated]
        lin_s[translated, 2] = value[translated]
        unit_delta = np.where(linear | is_fx, value, 0.0)
        unit_sigma = np.abs(value) * np.where(spot >= 0, factor_vol[np.maximum(spot, 0)], 0.0)
        dv01 = np.zeros(ids.size)

        bond = np.flatnonzero(ac == BOND)
        if bond.size:
            bi = ids[bond]
            mat = year_fraction(ref.maturity_days[bi], as_of)
            ok = (mat > 0) & (reason[bond] == VALUED)
            matured = bond[~(mat > 0)]
            reason[matured[reason[matured] == VALUED]] = _R["matured bond"]
            if ok.any():
                b = bi[ok]
                self._solve_yields(b, mat[ok])
                solved = np.isfinite(self.bond_yield[b])
                reason[bond[ok][~solved]] = _R["bond yield not solvable from its price"]
                d = self._bond_dv01[b]
                sens = -d * ref.multiplier[b] * self.fx[b]
                factors, weights = key_rate_weights(mat[ok], ref.ccy_code[b], self._rate_table)
                rows = bond[ok]
                lin_f[rows, 0:2] = factors
                lin_s[rows, 0:2] = sens[:, None] * weights
                dv01[rows] = d * ref.multiplier[b] * self.fx[b] * 1e-4
                rate_vol = (factor_vol[factors] * weights).sum(axis=1)
                unit_sigma[rows] = np.abs(sens) * rate_vol

        opt = np.flatnonzero(ac == OPTION)
        opt_expiry = np.empty(0)
        if opt.size:
            oi = ids[opt]
            und = ref.underlying[oi]
            n = ref.n
            bad_und = (und < 0) | (und >= n)
            und_price = np.where(bad_und, np.nan, self.price[np.clip(und, 0, n - 1)])
            vol = implied_vol[oi]
            expiry = year_fraction(ref.expiry_days[oi], as_of)
            r = reason[opt]
            no_spot = ref.u_spot_col[ref.opt_owner[ref.opt_index[oi]]] < 0
            # the first failing check names the reason (checks in REASONS order)
            for text, bad in (
                ("missing underlying price", ~(np.isfinite(und_price) & (und_price > 0))),
                ("underlying without a spot risk factor", no_spot),
                ("expired option", ~(expiry > 0)),
                ("missing implied volatility", ~np.isfinite(vol)),
                ("negative volatility", vol < 0),
                ("zero volatility", vol == 0),
            ):
                r[(r == VALUED) & bad] = _R[text]
            reason[opt] = r
            opt_expiry = np.where(expiry > 0, expiry, 0.0)
            lin_s[opt, 2] = np.where(ccy[opt] >= 0, value[opt], 0.0)

        ok_now = reason == VALUED
        lin_f[~ok_now, :] = -1
        lin_s[~ok_now, :] = 0.0
        self.reason[ids] = reason
        self.unit_value[ids] = np.where(ok_now, value, 0.0)
        not_opt = ac != OPTION  # option Greeks and values come from the option grids
        self.unit_delta[ids[not_opt]] = np.where(ok_now[not_opt], unit_delta[not_opt], 0.0)
        self.unit_sigma[ids[not_opt]] = np.where(ok_now[not_opt], unit_sigma[not_opt], 0.0)
        self.unit_dv01[ids] = dv01
        return Derived(ids, lin_f, lin_s, was_valid, opt_expiry)
