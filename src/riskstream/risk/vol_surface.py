"""Live implied-volatility surface from option quotes: quote checks, solving, sticky strike.

The risk engine marks its options with vols implied by their own quotes in the market state
(``md`` writes each option's best bid, ask and mid there). At each refresh the options whose
quote changed are re-read:

1. **Quote checks** (a bad quote is flagged with its reason, counted, and skipped):

   * ``one_sided`` — a bid or an ask is missing (or not positive): no mid to read;
   * ``crossed`` — bid above ask;
   * ``stale`` — the quote is older than ``RiskConfig.vol_quote_stale_s`` of the clock;
   * ``outside_bounds`` — the mid is outside the no-arbitrage bounds of its model: below the
     intrinsic (exercise) value or above the spot (call) or strike (put) bound, so no
     volatility reproduces it (the solver returns NaN);
   * ``arbitrage`` — the quotes of one underlying and expiry admit a static arbitrage in
     strike. Call prices must be non-increasing and convex in the strike, put prices
     non-decreasing and convex (Carr and Madan 2005, "A note on sufficient conditions for no
     arbitrage", *Finance Research Letters* 2; Gatheral, *The Volatility Surface*, 2006,
     ch. 2); both hold for American options too (Merton 1973). The test is the *tradeable*
     one: a call spread or butterfly that can be bought at a negative cost at the quoted
     bid and ask (buy at the ask, sell at the bid), so tick rounding of the mids never raises
     a false flag. Both legs of a non-monotone pair, and the body of a non-convex butterfly,
     are flagged.

2. **Mid → implied vol**, vectorised: Black-Scholes-Merton (dividend yield per option) for
   European options on spot, Black-76 for options on futures, and the Barone-Adesi-Whaley
   approximation for American options — the model the engine's grids value them with, so a
   quote is reproduced by the engine's own mark.

3. **Surface per underlying: a sticky-strike grid** (strike x expiry; Derman 1999, "Regimes
   of volatility", *Risk* 12(4)): each vol is kept at its strike, and moves only when the
   quotes move, not when the spot does. An option without a usable quote of its own takes
   the surface's vol at its strike and expiry: linear interpolation in strike within its
   expiry (flat beyond the outermost quoted strikes), and, where its expiry has no usable
   quote at all, linear interpolation of total variance ``sigma^2 T`` between the nearest
   quoted expiries at its strike (flat vol beyond the first and last). Calls and puts
   quoted at one strike are averaged. A grid is chosen over a parametric smile (SVI,
   Gatheral 2004) because it reproduces every clean quote exactly and needs no fit on the
   hot path; it carries no arbitrage-free guarantee between quotes, which is why quotes that
   violate the strike conditions are dropped first. An underlying with no usable quote at
   all keeps its options' last vols (at start, the reference vols given to the engine).

The surface owns its state; the engine reads the market state and calls :meth:`update`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from riskstream.pricing import baw_implied_vol, bsm_implied_vol

FLAG_REASONS: tuple[str, ...] = ("one_sided", "crossed", "stale", "outside_bounds", "arbitrage")
OK, ONE_SIDED, CROSSED, STALE, OUTSIDE_BOUNDS, ARBITRAGE = range(6)


@njit(cache=True)
def _strike_arbitrage(order, starts, slices, strike, is_call, bid, ask, usable, flag):
    """Flag the quotes of ``slices`` (expiry slices, options in strike order ``order``
    between ``starts[s]`` and ``starts[s + 1]``) that admit a call spread or butterfly
    bought at a negative cost; only ``usable`` quotes take part."""
    for si in range(slices.shape[0]):
        s = slices[si]
        lo, hi = starts[s], starts[s + 1]
        for right in range(2):
            call = right == 1
            idx = np.empty(hi - lo, dtype=np.int64)
            m = 0
            for p in range(lo, hi):
                o = order[p]
                if usable[o] and is_call[o] == call:
                    idx[m] = o
                    m += 1
            for a in range(m - 1):
                i, j = idx[a], idx[a + 1]
                if strike[j] <= strike[i]:
                    continue
                # call: long K_i, short K_j (K_i < K_j) pays >= 0, so ask_i >= bid_j;
                # put: long K_j, short K_i pays >= 0, so ask_j >= bid_i.
                if (call and ask[i] < bid[j]) or (not call and ask[j] < bid[i]):
                    flag[i] = ARBITRAGE
                    flag[j] = ARBITRAGE
            for a in range(m - 2):
                i, j, k = idx[a], idx[a + 1], idx[a + 2]
                k1, k2, k3 = strike[i], strike[j], strike[k]
                if not (k1 < k2 < k3):
                    continue
                w = (k3 - k2) / (k3 - k1)
                # long w of K1 and (1-w) of K3, short K2: pays >= 0 (convexity)
                if w * ask[i] + (1.0 - w) * ask[k] < bid[j]:
                    flag[j] = ARBITRAGE


@njit(cache=True)
def _interp_strike(ks, vs, m, k):
    # Linear in strike through m points (sorted), flat beyond the ends.
    if k <= ks[0]:
        return vs[0]
    if k >= ks[m - 1]:
        return vs[m - 1]
    for a in range(m - 1):
        if k <= ks[a + 1]:
            t = (k - ks[a]) / (ks[a + 1] - ks[a])
            return vs[a] + t * (vs[a + 1] - vs[a])
    return vs[m - 1]


@njit(cache=True)
def _fill_surface(
    order, starts, und_slices, slice_expiry, unds, strike, expiry, good, quote_vol, vol
):
    """Every option of underlyings ``unds``: its own quote's vol where ``good``, else the
    sticky-strike surface's at its strike and expiry (see the module doc); unchanged where
    its underlying has no usable quote. ``und_slices[u]:und_slices[u + 1]`` are the slices
    of underlying ``u``."""
    for ui in range(unds.shape[0]):
        u = unds[ui]
        s0, s1 = und_slices[u], und_slices[u + 1]
        n_sl = s1 - s0
        width = 0
        for s in range(s0, s1):
            width = max(width, starts[s + 1] - starts[s])
        ks = np.empty((n_sl, width))
        vs = np.empty((n_sl, width))
        cnt = np.zeros(n_sl, dtype=np.int64)
        for s in range(s0, s1):
            r = s - s0
            for p in range(starts[s], starts[s + 1]):
                o = order[p]
                if not good[o]:
                    continue
                c = cnt[r]
                if c > 0 and ks[r, c - 1] == strike[o]:  # call and put at one strike: average
                    vs[r, c - 1] = 0.5 * (vs[r, c - 1] + quote_vol[o])
                else:
                    ks[r, c] = strike[o]
                    vs[r, c] = quote_vol[o]
                    cnt[r] = c + 1
        if cnt.sum() == 0:
            continue
        for s in range(s0, s1):
            r = s - s0
            for p in range(starts[s], starts[s + 1]):
                o = order[p]
                if good[o]:
                    vol[o] = quote_vol[o]
                elif cnt[r] > 0:
                    vol[o] = _interp_strike(ks[r], vs[r], cnt[r], strike[o])
                else:
                    # across expiries: total variance linear in T at this strike, flat vol
                    t = expiry[o]
                    below, above = -1, -1
                    for q in range(n_sl):
                        if cnt[q] == 0:
                            continue
                        tq = slice_expiry[s0 + q]
                        if tq <= t and (below < 0 or tq > slice_expiry[s0 + below]):
                            below = q
                        if tq >= t and (above < 0 or tq < slice_expiry[s0 + above]):
                            above = q
                    if below < 0:
                        vol[o] = _interp_strike(ks[above], vs[above], cnt[above], strike[o])
                    elif above < 0 or above == below:
                        vol[o] = _interp_strike(ks[below], vs[below], cnt[below], strike[o])
                    else:
                        t1, t2 = slice_expiry[s0 + below], slice_expiry[s0 + above]
                        v1 = _interp_strike(ks[below], vs[below], cnt[below], strike[o])
                        v2 = _interp_strike(ks[above], vs[above], cnt[above], strike[o])
                        w1, w2 = v1 * v1 * t1, v2 * v2 * t2
                        w = w1 + (w2 - w1) * (t - t1) / (t2 - t1)
                        vol[o] = math.sqrt(max(w, 0.0) / t) if t > 0 else v1


class VolSurface:
    """Implied vols of a set of options, kept live from their quotes (see the module doc).

    Parameters
    ----------
    owner : ndarray of shape (n_opt,) int
        Each option's underlying slot (0..n_underlyings-1).
    expiry_key : ndarray of shape (n_opt,) int
        Each option's expiry (e.g. epoch days): options of one owner and key form a slice.
    strike, is_call, american, on_future : ndarray of shape (n_opt,)
    initial_vol : ndarray of shape (n_opt,)
        Vols until quotes say otherwise (the reference surface).
    stale_ns : int
        A quote older than this is stale.
    """

    def __init__(
        self,
        owner: np.ndarray,
        expiry_key: np.ndarray,
        strike: np.ndarray,
        is_call: np.ndarray,
        american: np.ndarray,
        on_future: np.ndarray,
        initial_vol: np.ndarray,
        stale_ns: int,
    ):
        self.n = n = owner.size
        self.owner = np.asarray(owner, dtype=np.int64)
        self.strike = np.nan_to_num(np.asarray(strike, dtype=np.float64))
        self.is_call = np.asarray(is_call, dtype=bool)
        self.american = np.asarray(american, dtype=bool)
        self.on_future = np.asarray(on_future, dtype=bool)
        self.stale_ns = int(stale_ns)
        self.vol = np.asarray(initial_vol, dtype=np.float64).copy()
        self.quote_vol = np.full(n, np.nan)  # vols of the usable quotes (NaN if flagged)
        self.solved_vol = np.full(n, np.nan)  # vols of quotes passing all but the strike test
        self.quote_ts = np.zeros(n, dtype=np.int64)
        self.flag = np.full(n, ONE_SIDED, dtype=np.int64)  # no quote read yet
        self.flag_counts = dict.fromkeys(FLAG_REASONS, 0)  # cumulative, per quote read
        # slices: (owner, expiry) groups, options in strike order within each
        key = np.asarray(expiry_key, dtype=np.int64)
        order = np.lexsort((self.strike, key, self.owner))
        self.order = order.astype(np.int64)
        so, sk = self.owner[order], key[order]
        new = np.ones(n, dtype=bool)
        new[1:] = (so[1:] != so[:-1]) | (sk[1:] != sk[:-1])
        first = np.flatnonzero(new)
        self.starts = np.append(first, n).astype(np.int64)
        self.slice_of = np.empty(n, dtype=np.int64)
        self.slice_of[order] = np.cumsum(new) - 1
        slice_owner = so[first]
        n_u = int(self.owner.max()) + 1 if n else 0
        self.und_slices = np.searchsorted(slice_owner, np.arange(n_u + 1)).astype(np.int64)
        self.slice_expiry = np.zeros(first.size)

    def update(
        self,
        changed: np.ndarray,
        bid: np.ndarray,
        ask: np.ndarray,
        quote_ts: np.ndarray,
        spot: np.ndarray,
        expiry_years: np.ndarray,
        rate: np.ndarray,
        dividend_yield: np.ndarray,
        now_ns: int,
    ) -> np.ndarray:
        """Read the quotes of options ``changed`` and refresh the surface.

        Parameters
        ----------
        changed : (k,) int — options (indices into this surface) whose quote was updated.
        bid, ask, quote_ts : (n_opt,) — every option's best quotes and their time (ns).
        spot : (n_opt,) — the underlying's price (futures price for options on futures).
        expiry_years, rate, dividend_yield : (n_opt,) — time to expiry, the rate to it and
            the underlying's continuous dividend yield.
        now_ns : int — the clock.

        Returns
        -------
        ndarray of int
            Underlying slots whose options' vols changed.
        """
        changed = np.asarray(changed, dtype=np.int64)
        # quotes that aged past the stale limit since they were read leave the surface
        aged = np.flatnonzero((self.flag == OK) & (now_ns - self.quote_ts > self.stale_ns))
        mark = np.zeros(self.n, dtype=bool)
        mark[changed] = True
        mark[aged] = True
        changed = np.flatnonzero(mark)
        if changed.size == 0:
            return np.empty(0, dtype=np.int64)
        b, a, ts = bid[changed], ask[changed], quote_ts[changed]
        flag = np.full(changed.size, OK, dtype=np.int64)
        flag[~(np.isfinite(b) & np.isfinite(a) & (b > 0) & (a > 0))] = ONE_SIDED
        flag[(flag == OK) & (b > a)] = CROSSED
        flag[(flag == OK) & (now_ns - ts > self.stale_ns)] = STALE
        solve = np.flatnonzero(flag == OK)
        iv = np.full(changed.size, np.nan)
        if solve.size:
            o = changed[solve]
            mid = 0.5 * (b[solve] + a[solve])
            q = np.where(self.on_future[o], rate[o], dividend_yield[o])
            amer = self.american[o]
            args = (spot[o], self.strike[o], expiry_years[o], rate[o], q, self.is_call[o])
            out = np.full(o.size, np.nan)
            eu = ~amer
            if eu.any():
                out[eu] = bsm_implied_vol(mid[eu], *(x[eu] for x in args), tol=1e-10)
            if amer.any():
                # start from the option's vol now (its last quote's, or the surface's)
                out[amer] = baw_implied_vol(
                    mid[amer], *(x[amer] for x in args), guess=self.vol[o[amer]]
                )
            bad = ~(np.isfinite(out) & (out > 0))
            flag[solve[bad]] = OUTSIDE_BOUNDS
            iv[solve] = out
        self.flag[changed] = flag
        self.solved_vol[changed] = np.where(flag == OK, iv, np.nan)
        self.quote_ts[changed] = ts
        # The strike conditions on every usable quote of the slices touched; a quote flagged
        # for arbitrage earlier is tested again (its neighbours may have moved).
        touched = np.zeros(self.starts.size - 1, dtype=bool)
        touched[self.slice_of[changed]] = True
        slices = np.flatnonzero(touched)
        in_touched = touched[self.slice_of]
        was_arb = self.flag == ARBITRAGE
        retest = in_touched & ((self.flag == OK) | was_arb)
        self.flag[retest] = OK
        usable = self.flag == OK
        arb = self.flag.copy()
        _strike_arbitrage(
            self.order, self.starts, slices, self.strike, self.is_call, bid, ask, usable, arb
        )
        hit = (arb == ARBITRAGE) & usable
        self.flag[hit] = ARBITRAGE
        self.quote_vol = np.where(self.flag == OK, self.solved_vol, np.nan)
        flag = self.flag[changed]
        for code, name in enumerate(FLAG_REASONS, start=1):
            self.flag_counts[name] += int((flag == code).sum())
        # quotes not re-read this time but newly caught by a neighbour's move
        newly = hit & ~was_arb
        newly[changed] = False
        self.flag_counts["arbitrage"] += int(newly.sum())
        # surface of the underlyings touched
        n_u = self.und_slices.size - 1
        unds = np.flatnonzero(np.bincount(self.owner[changed], minlength=n_u))
        self.slice_expiry[self.slice_of] = expiry_years
        before = self.vol.copy()
        good = self.flag == OK
        _fill_surface(
            self.order,
            self.starts,
            self.und_slices,
            self.slice_expiry,
            unds,
            self.strike,
            np.asarray(expiry_years, dtype=np.float64),
            good,
            self.quote_vol,
            self.vol,
        )
        moved = np.flatnonzero(self.vol != before)
        return np.flatnonzero(np.bincount(self.owner[moved], minlength=n_u))

    def flagged_now(self) -> dict[str, int]:
        """Options whose latest quote is flagged now, by reason (an option never quoted
        counts as ``one_sided``)."""
        return {name: int((self.flag == code).sum()) for code, name in enumerate(FLAG_REASONS, 1)}
