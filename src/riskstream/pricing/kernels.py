"""numba kernels behind the pricers: Black-Scholes-Merton on a grid of shocks, implied
volatility, and binomial trees for American options.

Hand-written (rather than scipy) because they run inside ``@njit`` loops: the risk engine
revalues every option on a grid of spot and volatility shocks each cycle, and an element-wise
solver or tree cannot be expressed as a few array operations without large temporaries. Each
kernel has a plain-Python twin in ``tests/pricing`` and a test that they agree.

Units and conventions are those of :mod:`riskstream.pricing.black_scholes` (years, annual
continuously compounded decimals, price per unit of underlying).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# Tree methods (argument ``method`` of the tree kernels).
CRR = 0  # Cox, Ross and Rubinstein (1979): u = e^{σ√Δt}, d = 1/u
LEISEN_REIMER = 1  # Leisen and Reimer (1996), Peizer-Pratt inversion method 2; odd steps


@njit(cache=True)
def norm_cdf(x: float) -> float:
    """Standard normal distribution function, N(x) = erfc(-x/√2)/2 (full double accuracy
    in both tails, unlike 1 - erfc)."""
    return 0.5 * math.erfc(-x / _SQRT2)


@njit(cache=True)
def bsm_price_scalar(
    S: float, K: float, T: float, r: float, q: float, sigma: float, is_call: bool
) -> float:
    """Black-Scholes-Merton price of one European option (same limits as ``bsm_price``)."""
    if T <= 0.0 or sigma <= 0.0:
        t = max(T, 0.0)
        fwd_diff = S * math.exp(-q * t) - K * math.exp(-r * t)
        return max(fwd_diff, 0.0) if is_call else max(-fwd_diff, 0.0)
    vol_sqrt_t = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / vol_sqrt_t
    d2 = d1 - vol_sqrt_t
    df_q = math.exp(-q * T)
    df_r = math.exp(-r * T)
    if is_call:
        return S * df_q * norm_cdf(d1) - K * df_r * norm_cdf(d2)
    return K * df_r * norm_cdf(-d2) - S * df_q * norm_cdf(-d1)


def _bsm_price_grid(
    S: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    sigma: np.ndarray,
    is_call: np.ndarray,
    spot_factors: np.ndarray,
    vol_factors: np.ndarray,
) -> np.ndarray:
    """Revalue ``n`` European options on a grid of relative spot and volatility shocks.

    ``out[i, j, k] = bsm_price(S[i] * spot_factors[j], K[i], T[i], r[i], q[i],
    sigma[i] * vol_factors[k], is_call[i])``. For Black-76 pass the futures price as ``S`` and
    ``q = r``.

    Parameters
    ----------
    S, K, T, r, q, sigma : ndarray of shape (n,), float64
    is_call : ndarray of shape (n,), bool
    spot_factors : ndarray of shape (n_spot,)
        Multiplicative spot shocks (1.0 = unchanged; e.g. ``exp(returns)``).
    vol_factors : ndarray of shape (n_vol,)
        Multiplicative volatility shocks (1.0 = unchanged).

    Returns
    -------
    ndarray of shape (n, n_spot, n_vol)
    """
    n = S.shape[0]
    ns = spot_factors.shape[0]
    nv = vol_factors.shape[0]
    out = np.empty((n, ns, nv))
    log_factors = np.log(spot_factors)
    for i in prange(n):
        Ti = T[i]
        Ki = K[i]
        df_q = math.exp(-q[i] * max(Ti, 0.0))
        df_r = math.exp(-r[i] * max(Ti, 0.0))
        call = is_call[i]
        if Ti <= 0.0 or sigma[i] <= 0.0:
            for j in range(ns):
                v = bsm_price_scalar(S[i] * spot_factors[j], Ki, Ti, r[i], q[i], sigma[i], call)
                for k in range(nv):
                    out[i, j, k] = v
            continue
        sqrt_t = math.sqrt(Ti)
        log_moneyness = math.log(S[i] / Ki)
        Kdf = Ki * df_r
        for k in range(nv):
            sig = sigma[i] * vol_factors[k]
            vol_sqrt_t = sig * sqrt_t
            drift = (r[i] - q[i] + 0.5 * sig * sig) * Ti
            for j in range(ns):
                Sdf = S[i] * spot_factors[j] * df_q
                if vol_sqrt_t <= 0.0:
                    diff = Sdf - Kdf
                    out[i, j, k] = max(diff, 0.0) if call else max(-diff, 0.0)
                    continue
                d1 = (log_moneyness + log_factors[j] + drift) / vol_sqrt_t
                d2 = d1 - vol_sqrt_t
                if call:
                    out[i, j, k] = Sdf * norm_cdf(d1) - Kdf * norm_cdf(d2)
                else:
                    out[i, j, k] = Kdf * norm_cdf(-d2) - Sdf * norm_cdf(-d1)
    return out


# The same loop compiled twice: serial, and with the options spread over threads (prange is
# plain range when not parallel). Results are identical element by element.
bsm_price_grid = njit(cache=True, nogil=True)(_bsm_price_grid)
bsm_price_grid_parallel = njit(cache=True, parallel=True)(_bsm_price_grid)


# --- implied volatility ----------------------------------------------------------------


@njit(cache=True)
def _implied_vol_one(
    price: float,
    S: float,
    K: float,
    T: float,
    r: float,
    q: float,
    is_call: bool,
    tol: float,
    max_iter: int,
) -> float:
    """Safeguarded Newton-Raphson for one Black-Scholes-Merton implied volatility.

    Works on the undiscounted out-of-the-money option (put-call parity moves an in-the-money
    quote there, where vega is largest relative to price). Newton steps on σ are kept inside
    a bracket [lo, hi] known to contain the root (the price is increasing in σ); a step that
    leaves the bracket, or a tiny vega, falls back to bisection, so the solver always
    converges (Press et al., *Numerical Recipes*, 3rd ed., sec. 9.4, ``rtsafe``).
    Returns NaN when the price is outside the no-arbitrage bounds.
    """
    if not (T > 0.0 and S > 0.0 and K > 0.0) or math.isnan(price):
        return math.nan
    F = S * math.exp((r - q) * T)
    undiscounted = price * math.exp(r * T)
    # OTM equivalent by put-call parity: c - p = F - K (undiscounted).
    if is_call:
        otm = undiscounted - (F - K) if F > K else undiscounted
        otm_is_call = F <= K
    else:
        otm = undiscounted - (K - F) if K > F else undiscounted
        otm_is_call = K > F
    upper = K if not otm_is_call else F  # an OTM option is worth less than K (put) or F (call)
    scale = max(F, K)
    if otm < -tol * scale or otm >= upper:
        return math.nan
    if otm <= 0.0:
        return 0.0
    sqrt_t = math.sqrt(T)
    log_fk = math.log(F / K)

    def black(sig: float) -> float:
        vs = sig * sqrt_t
        d1 = (log_fk + 0.5 * vs * vs) / vs
        d2 = d1 - vs
        if otm_is_call:
            return F * norm_cdf(d1) - K * norm_cdf(d2)
        return K * norm_cdf(-d2) - F * norm_cdf(-d1)

    lo, hi = 0.0, 1.0
    while black(hi) < otm:
        lo = hi
        hi *= 2.0
        if hi > 1e4:
            return math.nan
    # Start from the point of inflexion in σ, σ² T = 2|ln(F/K)| (Manaster and Koehler 1982),
    # clipped into the bracket.
    sig = math.sqrt(2.0 * abs(log_fk) / T) if log_fk != 0.0 else 0.5 * (lo + hi)
    if sig <= lo or sig >= hi:
        sig = 0.5 * (lo + hi)
    for _ in range(max_iter):
        vs = sig * sqrt_t
        d1 = (log_fk + 0.5 * vs * vs) / vs
        diff = black(sig) - otm
        if abs(diff) <= tol * otm:
            return sig
        if diff > 0.0:
            hi = sig
        else:
            lo = sig
        vega = F * _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1) * sqrt_t
        step_ok = vega > 0.0
        new = sig - diff / vega if step_ok else lo
        if not step_ok or new <= lo or new >= hi:
            new = 0.5 * (lo + hi)
        if abs(new - sig) <= 1e-15 * max(sig, 1.0):
            return new
        sig = new
    return sig


@njit(cache=True)
def implied_vol_flat(
    price: np.ndarray,
    S: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    is_call: np.ndarray,
    tol: float,
    max_iter: int,
) -> np.ndarray:
    """Implied volatilities of flat, equally long arrays (see ``_implied_vol_one``)."""
    out = np.empty(price.shape[0])
    for i in range(price.shape[0]):
        out[i] = _implied_vol_one(price[i], S[i], K[i], T[i], r[i], q[i], is_call[i], tol, max_iter)
    return out


# --- binomial trees ----------------------------------------------------------------------


@njit(cache=True)
def _peizer_pratt(z: float, n: int) -> float:
    """Peizer-Pratt method-2 inversion: the binomial probability matching N(z) with n steps
    (Leisen and Reimer 1996, eq. 11)."""
    a = z / (n + 1.0 / 3.0 + 0.1 / (n + 1.0))
    root = math.sqrt(0.25 - 0.25 * math.exp(-a * a * (n + 1.0 / 6.0)))
    return 0.5 + root if z >= 0.0 else 0.5 - root


@njit(cache=True)
def tree_one(
    S: float,
    K: float,
    T: float,
    r: float,
    q: float,
    sigma: float,
    is_call: bool,
    steps: int,
    method: int,
    american: bool,
) -> tuple[float, float, float, float]:
    """Price, delta, gamma and theta of one vanilla option on a recombining binomial tree.

    At each node the value is the discounted risk-neutral expectation of the two successors,
    ``e^{-rΔt}[p V_up + (1-p) V_down]``, and, if ``american``, at least the exercise value
    (Hull ch. 13 and 21). ``method`` is :data:`CRR` or :data:`LEISEN_REIMER` (which uses the
    next odd number of steps, as in the paper).

    Greeks from the tree's own nodes (Hull sec. 21.2; QuantLib's binomial engine): delta from
    the two nodes after one step, gamma from the change of delta across the three nodes after
    two steps. Theta compares the value at the middle node after two steps, moved back to
    today's spot by a second-order Taylor step (``u d != 1`` in Leisen-Reimer), with today's
    value: ``θ = [V(S, 2Δt) - V(S, 0)] / (2Δt)``.
    """
    if T <= 0.0 or (sigma <= 0.0 and not american):
        price = bsm_price_scalar(S, K, T, r, q, sigma, is_call)
        h = 1e-4 * S
        up = bsm_price_scalar(S + h, K, T, r, q, sigma, is_call)
        down = bsm_price_scalar(S - h, K, T, r, q, sigma, is_call)
        return price, (up - down) / (2 * h), 0.0, 0.0
    omega = 1.0 if is_call else -1.0
    if sigma <= 0.0:
        # Deterministic path S e^{(r-q)t}: the holder exercises at the best date on a grid.
        best = 0.0
        best_t = 0.0
        for i in range(steps + 1):
            t = T * i / steps
            value = math.exp(-r * t) * omega * (S * math.exp((r - q) * t) - K)
            if value > best:
                best = value
                best_t = t
        delta = omega * math.exp(-q * best_t) if best > 0.0 else 0.0
        return best, delta, 0.0, 0.0
    n = steps
    if method == LEISEN_REIMER and n % 2 == 0:
        n += 1
    n = max(n, 3)
    dt = T / n
    growth = math.exp((r - q) * dt)
    if method == LEISEN_REIMER:
        vol_sqrt_t = sigma * math.sqrt(T)
        d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / vol_sqrt_t
        d2 = d1 - vol_sqrt_t
        p = _peizer_pratt(d2, n)
        p_star = _peizer_pratt(d1, n)
        u = growth * p_star / p
        d = (growth - p * u) / (1.0 - p)
    else:
        u = math.exp(sigma * math.sqrt(dt))
        d = 1.0 / u
        p = (growth - d) / (u - d)
    disc = math.exp(-r * dt)
    pu = disc * p
    pd = disc * (1.0 - p)
    ratio = u / d
    values = np.empty(n + 1)
    s = S * d**n
    for j in range(n + 1):
        values[j] = max(omega * (s - K), 0.0)
        s *= ratio
    v2 = np.empty(3)
    v1 = np.empty(2)
    for i in range(n - 1, -1, -1):
        s = S * d**i
        for j in range(i + 1):
            cont = pu * values[j + 1] + pd * values[j]
            if american:
                exercise = omega * (s - K)
                values[j] = cont if cont >= exercise else exercise
            else:
                values[j] = cont
            s *= ratio
        if i == 2:
            v2[:] = values[:3]
        elif i == 1:
            v1[:] = values[:2]
    price = values[0]
    s1u, s1d = S * u, S * d
    delta = (v1[1] - v1[0]) / (s1u - s1d)
    s2u, s2m, s2d = S * u * u, S * u * d, S * d * d
    delta_up = (v2[2] - v2[1]) / (s2u - s2m)
    delta_down = (v2[1] - v2[0]) / (s2m - s2d)
    gamma = (delta_up - delta_down) / (0.5 * (s2u - s2d))
    # Value at today's spot two steps ahead, from the middle node by a Taylor step.
    delta_mid = 0.5 * (delta_up + delta_down)
    v_two_steps = v2[1] + delta_mid * (S - s2m) + 0.5 * gamma * (S - s2m) ** 2
    theta = (v_two_steps - price) / (2.0 * dt)
    return price, delta, gamma, theta


@njit(cache=True)
def tree_price_one(
    S: float,
    K: float,
    T: float,
    r: float,
    q: float,
    sigma: float,
    is_call: bool,
    steps: int,
    method: int,
    american: bool,
) -> float:
    """Price of one vanilla option on a binomial tree (see :func:`tree_one`)."""
    return tree_one(S, K, T, r, q, sigma, is_call, steps, method, american)[0]


@njit(cache=True)
def tree_flat(
    S: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    sigma: np.ndarray,
    is_call: np.ndarray,
    steps: int,
    method: int,
    american: bool,
) -> np.ndarray:
    """:func:`tree_one` over flat, equally long arrays: an array of shape (4, n) holding
    price, delta, gamma and theta."""
    out = np.empty((4, S.shape[0]))
    for i in range(S.shape[0]):
        res = tree_one(S[i], K[i], T[i], r[i], q[i], sigma[i], is_call[i], steps, method, american)
        out[0, i] = res[0]
        out[1, i] = res[1]
        out[2, i] = res[2]
        out[3, i] = res[3]
    return out


# --- finite differences (PDE) ------------------------------------------------------------


@njit(cache=True)
def pde_one(
    S: float,
    K: float,
    T: float,
    r: float,
    q: float,
    sigma: float,
    is_call: bool,
    n_x: int,
    n_t: int,
    half_width: float,
    american: bool,
) -> tuple[float, float, float, float]:
    """Price, delta, gamma and theta of one vanilla option by finite differences.

    Solves the Black-Scholes-Merton PDE in log-spot :math:`x = \\ln S` and time to expiry τ,

    .. math:: V_τ = \\tfrac12 σ^2 V_{xx} + (r - q - \\tfrac12 σ^2) V_x - r V,

    on a uniform grid of ``n_x + 1`` nodes centred on today's spot (``ln S ± half_width``)
    with ``n_t`` Crank-Nicolson time steps, the first two fully implicit (Rannacher 1984, to
    damp the payoff kink), Dirichlet boundaries at the grid's ends, and, if ``american``, the
    exercise value imposed after every step (the projection QuantLib's FD engines use too).
    The grid depends only on (S, T, ``half_width``), not on σ or r, so prices from bumped σ or
    r are smooth in the bump: their differences give clean vega, volga, vanna and rho.

    Greeks come from the grid at today's spot: :math:`Δ = V_x / S`,
    :math:`Γ = (V_{xx} - V_x) / S^2`, and θ from the PDE itself,
    :math:`θ = rV - (r - q) S Δ - \tfrac12 σ^2 S^2 Γ` (zero where the option is exercised).
    """
    omega = 1.0 if is_call else -1.0
    dx = 2.0 * half_width / n_x
    x0 = math.log(S)
    n = n_x + 1
    spot = np.empty(n)
    values = np.empty(n)
    payoff = np.empty(n)
    for j in range(n):
        spot[j] = math.exp(x0 + (j - n_x // 2) * dx)
        payoff[j] = max(omega * (spot[j] - K), 0.0)
        values[j] = payoff[j]
    # The kink at the strike: average the payoff over the cell of the node nearest K, which
    # restores second-order convergence in dx (Pooley, Vetzal and Forsyth 2003).
    jk = round((math.log(K) - x0) / dx) + n_x // 2
    if 0 < jk < n_x:
        lo = math.exp(x0 + (jk - n_x // 2 - 0.5) * dx)
        hi = math.exp(x0 + (jk - n_x // 2 + 0.5) * dx)
        if lo < K < hi:
            # ∫ max(ω(S - K), 0) dS over [lo, hi], divided by the cell width.
            area = 0.5 * (hi - K) ** 2 if is_call else 0.5 * (K - lo) ** 2
            values[jk] = area / (hi - lo)
    dt = T / n_t
    a = 0.5 * sigma * sigma / (dx * dx)
    b = (r - q - 0.5 * sigma * sigma) / (2.0 * dx)
    lower = a - b  # coefficient of V[j-1] in the spatial operator L
    diag = -2.0 * a - r
    upper = a + b
    rhs = np.empty(n)
    cp = np.empty(n)
    dp = np.empty(n)
    for step in range(n_t):
        tau = (step + 1) * dt
        theta_w = 1.0 if step < 2 else 0.5  # Rannacher start, then Crank-Nicolson
        ex = (1.0 - theta_w) * dt
        im = theta_w * dt
        # Boundary values at the new time level (deep in / out of the money).
        if is_call:
            v_lo = 0.0
            v_hi = spot[n - 1] * math.exp(-q * tau) - K * math.exp(-r * tau)
            if american:
                v_hi = max(v_hi, spot[n - 1] - K)
        else:
            v_hi = 0.0
            v_lo = K * math.exp(-r * tau) - spot[0] * math.exp(-q * tau)
            if american:
                v_lo = max(v_lo, K - spot[0])
        for j in range(1, n - 1):
            rhs[j] = values[j] + ex * (
                lower * values[j - 1] + diag * values[j] + upper * values[j + 1]
            )
        # Thomas algorithm on (I - im L) V_new = rhs, interior nodes 1..n-2.
        sub = -im * lower
        mid = 1.0 - im * diag
        sup = -im * upper
        rhs[1] -= sub * v_lo
        rhs[n - 2] -= sup * v_hi
        cp[1] = sup / mid
        dp[1] = rhs[1] / mid
        for j in range(2, n - 1):
            m = mid - sub * cp[j - 1]
            cp[j] = sup / m
            dp[j] = (rhs[j] - sub * dp[j - 1]) / m
        values[n - 2] = dp[n - 2]
        for j in range(n - 3, 0, -1):
            values[j] = dp[j] - cp[j] * values[j + 1]
        values[0] = v_lo
        values[n - 1] = v_hi
        if american:
            for j in range(n):
                if values[j] < payoff[j]:
                    values[j] = payoff[j]
    c = n_x // 2
    v_x = (values[c + 1] - values[c - 1]) / (2.0 * dx)
    v_xx = (values[c + 1] - 2.0 * values[c] + values[c - 1]) / (dx * dx)
    price = values[c]
    delta = v_x / S
    gamma = (v_xx - v_x) / (S * S)
    if american and price <= payoff[c] + 1e-12 * K:
        theta = 0.0  # exercised today: the value is the payoff, whatever the date
    else:
        # Where the option is held the PDE holds: θ = rV - (r - q) S Δ - ½ σ² S² Γ
        # (second-order accurate, unlike the one-step difference of the last time level).
        theta = r * price - (r - q) * S * delta - 0.5 * sigma * sigma * S * S * gamma
    return price, delta, gamma, theta


@njit(cache=True)
def pde_flat(
    S: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    sigma: np.ndarray,
    is_call: np.ndarray,
    half_width: np.ndarray,
    n_x: int,
    n_t: int,
    american: bool,
) -> np.ndarray:
    """:func:`pde_one` over flat arrays (expired or zero-vol options fall back to the tree
    kernel's limits): an array of shape (4, n) holding price, delta, gamma and theta."""
    out = np.empty((4, S.shape[0]))
    for i in range(S.shape[0]):
        if T[i] <= 0.0 or sigma[i] <= 0.0:
            res = tree_one(S[i], K[i], T[i], r[i], q[i], sigma[i], is_call[i], n_t, CRR, american)
        else:
            res = pde_one(
                S[i],
                K[i],
                T[i],
                r[i],
                q[i],
                sigma[i],
                is_call[i],
                n_x,
                n_t,
                half_width[i],
                american,
            )
        out[0, i] = res[0]
        out[1, i] = res[1]
        out[2, i] = res[2]
        out[3, i] = res[3]
    return out


# --- Barone-Adesi-Whaley quadratic approximation (American options) ---------------------
#
# Barone-Adesi and Whaley (1987), "Efficient analytic approximation of American option
# values", *Journal of Finance* 42(2); in the cost-of-carry form b = r - q of Haug, *The
# Complete Guide to Option Pricing Formulas* (2nd ed., 2007), sec. 3.3.1. The early-exercise
# premium solves the Black-Scholes PDE approximately (the time derivative of the premium is
# dropped after a change of variable), which gives a quadratic in the exponent:
#
#   call:  C = c(S) + A2 (S/S*)^q2  for S < S*,   S - K  otherwise
#   put:   P = p(S) + A1 (S/S**)^q1 for S > S**,  K - S  otherwise
#
# with N = 2b/σ², M = 2r/σ², k = 1 - e^{-rT}, q2,1 = (-(N-1) ± sqrt((N-1)² + 4M/k))/2, the
# critical prices S*, S** solved by Newton's method (Haug's seed and iteration), and
# A2 = (S*/q2)(1 - e^{(b-r)T} N(d1(S*))), A1 = -(S**/q1)(1 - e^{(b-r)T} N(-d1(S**))).
# A call is never exercised early when b >= r (no dividend yield), a put when r <= 0: the
# value is then the European one. The critical price depends on σ but not on S, so on a grid
# it is solved once per vol node and every spot node is closed form.


@njit(cache=True)
def _norm_pdf(x: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@njit(cache=True, error_model="numpy")
def baw_critical_price(K: float, T: float, r: float, q: float, sigma: float, is_call: bool):
    """Critical spot of early exercise (S* for a call, S** for a put) and the exponent
    (q2 or q1) of the Barone-Adesi-Whaley premium; ``(nan, nan)`` when early exercise is
    never optimal (call with q <= 0, put with r <= 0) or ``T``/``sigma`` are not positive."""
    return _baw_critical(K, T, r, q, sigma, is_call, math.nan)


@njit(cache=True, error_model="numpy")
def _baw_critical(K, T, r, q, sigma, is_call, seed):
    # baw_critical_price, Newton's iteration started at ``seed`` when it is a positive
    # number (e.g. the critical price at a nearby σ), else at Haug's seed; a seeded
    # iteration that fails (a seed far from the root) is run again from Haug's seed.
    s_crit, q_exp = _baw_critical_from(K, T, r, q, sigma, is_call, seed)
    if seed > 0.0 and math.isnan(s_crit):
        return _baw_critical_from(K, T, r, q, sigma, is_call, math.nan)
    return s_crit, q_exp


@njit(cache=True, error_model="numpy")
def _baw_critical_from(K, T, r, q, sigma, is_call, seed):
    b = r - q
    if T <= 0.0 or sigma <= 0.0 or (is_call and b >= r) or ((not is_call) and r <= 0.0):
        return math.nan, math.nan
    s2 = sigma * sigma
    n_ = 2.0 * b / s2
    m_ = 2.0 * r / s2
    k_ = 1.0 - math.exp(-r * T)
    sqrt_t = math.sqrt(T)
    vst = sigma * sqrt_t
    carry = math.exp((b - r) * T)
    if is_call:
        if r == 0.0:  # the limit of 4M/k as r -> 0: 8/(σ² T)
            qe = 0.5 * (-(n_ - 1.0) + math.sqrt((n_ - 1.0) ** 2 + 4.0 * 2.0 / (s2 * T)))
        else:
            qe = 0.5 * (-(n_ - 1.0) + math.sqrt((n_ - 1.0) ** 2 + 4.0 * m_ / k_))
        q_inf = 0.5 * (-(n_ - 1.0) + math.sqrt(max((n_ - 1.0) ** 2 + 4.0 * m_, 0.0)))
        s_inf = K / (1.0 - 1.0 / q_inf) if q_inf > 1.0 else 1e6 * K
        if not s_inf - K > 1e-12 * K:  # σ -> 0: exercise as soon as in the money
            return K, qe
        h2 = -(b * T + 2.0 * vst) * K / (s_inf - K)
        si = K + (s_inf - K) * (1.0 - math.exp(h2))
    else:
        qe = 0.5 * (-(n_ - 1.0) - math.sqrt((n_ - 1.0) ** 2 + 4.0 * m_ / k_))
        q_inf = 0.5 * (-(n_ - 1.0) - math.sqrt((n_ - 1.0) ** 2 + 4.0 * m_))
        s_inf = K / (1.0 - 1.0 / q_inf)
        if not K - s_inf > 1e-12 * K:
            return K, qe
        h1 = (b * T - 2.0 * vst) * K / (K - s_inf)
        si = s_inf + (K - s_inf) * math.exp(h1)
    if seed > 0.0:
        si = seed
    kdf = K * math.exp(-r * T)
    for _ in range(200):
        d1 = (math.log(si / K) + (b + 0.5 * s2) * T) / vst
        d2 = d1 - vst
        if is_call:
            euro = si * carry * norm_cdf(d1) - kdf * norm_cdf(d2)
        else:
            euro = kdf * norm_cdf(-d2) - si * carry * norm_cdf(-d1)
        if is_call:
            lhs = si - K
            rhs = euro + (1.0 - carry * norm_cdf(d1)) * si / qe
            slope = (
                carry * norm_cdf(d1) * (1.0 - 1.0 / qe) + (1.0 - carry * _norm_pdf(d1) / vst) / qe
            )
            if abs(lhs - rhs) / K < 1e-9:
                break
            if slope == 1.0:
                break
            si = (K + rhs - slope * si) / (1.0 - slope)
        else:
            lhs = K - si
            rhs = euro - (1.0 - carry * norm_cdf(-d1)) * si / qe
            slope = (
                -carry * norm_cdf(-d1) * (1.0 - 1.0 / qe)
                - (1.0 + carry * _norm_pdf(-d1) / vst) / qe
            )
            if abs(lhs - rhs) / K < 1e-9:
                break
            if slope == -1.0:
                break
            si = (K - rhs + slope * si) / (1.0 + slope)
        if not si > 0.0:
            return math.nan, math.nan
    if not (math.isfinite(si) and math.isfinite(qe)):
        return math.nan, math.nan
    return si, qe


@njit(cache=True, error_model="numpy")
def _baw_coefficient(K, T, r, q, sigma, is_call, s_crit, q_exp):
    # A2 (call) or A1 (put) of the premium A (S / s_crit)^q_exp; independent of S.
    if math.isnan(s_crit):
        return math.nan
    carry = math.exp(-q * T)  # e^{(b - r) T}
    d1 = (math.log(s_crit / K) + (r - q + 0.5 * sigma * sigma) * T) / (sigma * math.sqrt(T))
    if is_call:
        return (s_crit / q_exp) * (1.0 - carry * norm_cdf(d1))
    return -(s_crit / q_exp) * (1.0 - carry * norm_cdf(-d1))


@njit(cache=True, error_model="numpy")
def _baw_from_critical(S, K, is_call, s_crit, q_exp, coef, euro):
    # Value given the critical price, exponent and coefficient and the European value
    # ``euro``. An American option is worth at least its exercise value and its European
    # value; the approximation is held to both bounds (it can dip below them where the
    # Newton iteration for the critical price is ill-conditioned, as sigma -> 0).
    intrinsic = max(S - K, 0.0) if is_call else max(K - S, 0.0)
    floor = max(euro, intrinsic)
    if math.isnan(s_crit):
        return floor
    if (is_call and s_crit <= S) or (not is_call and s_crit >= S):
        return floor  # exercise region: the exercise value
    return max(euro + coef * (S / s_crit) ** q_exp, floor)


@njit(cache=True)
def baw_price_scalar(
    S: float, K: float, T: float, r: float, q: float, sigma: float, is_call: bool
) -> float:
    """Barone-Adesi-Whaley value of one American option (see the section comment)."""
    return _baw_seeded(S, K, T, r, q, sigma, is_call, math.nan)[0]


@njit(cache=True, error_model="numpy")
def _baw_seeded(S, K, T, r, q, sigma, is_call, seed):
    # (value, critical price), the critical price's iteration started at ``seed``.
    euro = bsm_price_scalar(S, K, T, r, q, sigma, is_call)
    s_crit, q_exp = _baw_critical(K, T, r, q, sigma, is_call, seed)
    coef = _baw_coefficient(K, T, r, q, sigma, is_call, s_crit, q_exp)
    return _baw_from_critical(S, K, is_call, s_crit, q_exp, coef, euro), s_crit


@njit(cache=True)
def baw_price_flat(S, K, T, r, q, sigma, is_call) -> np.ndarray:
    """Barone-Adesi-Whaley values of flat, equally long arrays."""
    out = np.empty(S.shape[0])
    for i in range(S.shape[0]):
        out[i] = baw_price_scalar(S[i], K[i], T[i], r[i], q[i], sigma[i], is_call[i])
    return out


def _baw_price_grid(
    S: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    sigma: np.ndarray,
    is_call: np.ndarray,
    spot_factors: np.ndarray,
    vol_factors: np.ndarray,
) -> np.ndarray:
    """Revalue ``n`` American options (Barone-Adesi-Whaley) on a grid of relative spot and
    volatility shocks; same shapes and calling convention as :func:`bsm_price_grid`:
    ``out[i, j, k] = baw(S[i] * spot_factors[j], K[i], T[i], r[i], q[i],
    sigma[i] * vol_factors[k], is_call[i])``. The critical price is solved once per (option,
    vol node); each spot node is then closed form. Options on futures: ``S = F``, ``q = r``."""
    n = S.shape[0]
    ns = spot_factors.shape[0]
    nv = vol_factors.shape[0]
    out = np.empty((n, ns, nv))
    for i in prange(n):
        Ki, Ti, ri, qi, call = K[i], T[i], r[i], q[i], is_call[i]
        if Ti <= 0.0 or sigma[i] <= 0.0:
            for j in range(ns):
                s = S[i] * spot_factors[j]
                v = max(bsm_price_scalar(s, Ki, Ti, ri, qi, sigma[i], call), 0.0)
                v = max(v, max(s - Ki, 0.0) if call else max(Ki - s, 0.0))
                for k in range(nv):
                    out[i, j, k] = v
            continue
        sqrt_t = math.sqrt(Ti)
        df_q = math.exp(-qi * Ti)
        kdf = Ki * math.exp(-ri * Ti)
        log_m = math.log(S[i] / Ki)
        seed = math.nan
        for k in range(nv):
            sig = sigma[i] * vol_factors[k]
            s_crit, q_exp = _baw_critical(Ki, Ti, ri, qi, sig, call, seed)
            seed = s_crit  # the next vol node's boundary is near
            coef = _baw_coefficient(Ki, Ti, ri, qi, sig, call, s_crit, q_exp)
            vst = sig * sqrt_t
            drift = (ri - qi + 0.5 * sig * sig) * Ti
            for j in range(ns):
                s = S[i] * spot_factors[j]
                # European value (the bsm_price_grid arithmetic), then the premium
                d1 = (log_m + math.log(spot_factors[j]) + drift) / vst
                d2 = d1 - vst
                if call:
                    euro = s * df_q * norm_cdf(d1) - kdf * norm_cdf(d2)
                else:
                    euro = kdf * norm_cdf(-d2) - s * df_q * norm_cdf(-d1)
                out[i, j, k] = _baw_from_critical(s, Ki, call, s_crit, q_exp, coef, euro)
    return out


baw_price_grid = njit(cache=True, nogil=True)(_baw_price_grid)
baw_price_grid_parallel = njit(cache=True, parallel=True)(_baw_price_grid)


@njit(cache=True, error_model="numpy")
def _baw_implied_vol_one(
    price: float,
    S: float,
    K: float,
    T: float,
    r: float,
    q: float,
    is_call: bool,
    tol: float,
    guess: float,
) -> float:
    """σ at which the Barone-Adesi-Whaley value equals ``price``; NaN outside the bounds.

    The value increases with σ; the root is bracketed and found by the Illinois variant of
    regula falsi (Dowell and Jarratt 1971: superlinear, never leaves the bracket). With a
    ``guess`` (e.g. the option's vol at its previous quote) the first bracket is ±2 % around
    it, widened to [guess, 5] or [1e-4, guess] if the root is outside; without one,
    [1e-4, 5]. A price at or below the value at 1e-4 (the exercise value, or the zero-vol
    forward value) or above the value at 5 has no implied vol: NaN."""
    if not (T > 0.0 and S > 0.0 and K > 0.0 and price > 0.0) or math.isnan(price):
        return math.nan
    # each evaluation starts the critical price's iteration at the last one's
    if guess > 1e-4 and guess < 5.0:
        lo, hi = guess * 0.98, min(guess * 1.02, 5.0)
        v, seed = _baw_seeded(S, K, T, r, q, lo, is_call, math.nan)
        f_lo = v - price
        v, seed = _baw_seeded(S, K, T, r, q, hi, is_call, seed)
        f_hi = v - price
        if f_lo >= 0.0:
            hi, f_hi = lo, f_lo
            lo = 1e-4
            f_lo = _baw_seeded(S, K, T, r, q, lo, is_call, math.nan)[0] - price
        elif f_hi <= 0.0:
            lo, f_lo = hi, f_hi
            hi = 5.0
            f_hi = _baw_seeded(S, K, T, r, q, hi, is_call, math.nan)[0] - price
    else:
        lo, hi = 1e-4, 5.0
        f_lo = _baw_seeded(S, K, T, r, q, lo, is_call, math.nan)[0] - price
        v, seed = _baw_seeded(S, K, T, r, q, hi, is_call, math.nan)
        f_hi = v - price
    if f_lo >= 0.0 or f_hi <= 0.0:
        return math.nan
    side = 0
    x = lo
    for _ in range(200):
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        v, s_new = _baw_seeded(S, K, T, r, q, x, is_call, seed)
        if s_new > 0.0:
            seed = s_new
        f = v - price
        if abs(f) <= tol * price or hi - lo < 1e-12:
            return x
        if f > 0.0:
            hi, f_hi = x, f
            if side == 1:
                f_lo *= 0.5
            side = 1
        else:
            lo, f_lo = x, f
            if side == -1:
                f_hi *= 0.5
            side = -1
    return x


@njit(cache=True)
def baw_implied_vol_flat(price, S, K, T, r, q, is_call, tol: float, guess) -> np.ndarray:
    """Barone-Adesi-Whaley implied volatilities of flat, equally long arrays (``guess``:
    starting vols, NaN for none)."""
    out = np.empty(price.shape[0])
    for i in range(price.shape[0]):
        out[i] = _baw_implied_vol_one(
            price[i], S[i], K[i], T[i], r[i], q[i], is_call[i], tol, guess[i]
        )
    return out
