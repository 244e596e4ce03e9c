"""Vectorised pricers and Greeks: European and American options, bonds, forwards and FX.

Every function takes numpy arrays (or scalars) that broadcast together and returns arrays of
the broadcast shape; conventions (units, signs, day counts) are stated in each module's
docstring and collected in docs/architecture.md, "Pricing".
"""

from riskstream.pricing.american import (
    american_black76_greeks,
    american_greeks,
    american_price,
    baw_implied_vol,
    baw_price,
)
from riskstream.pricing.black_scholes import (
    Greeks,
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
)
from riskstream.pricing.bonds import (
    BondRisk,
    FixedRateBond,
    bond_accrued_interest,
    bond_price_from_curve,
    bond_price_from_yield,
    bond_risk,
    bond_yield_from_price,
    effective_duration,
    key_rate_durations,
)
from riskstream.pricing.curves import KEY_RATE_TENORS_Y, ZeroCurve
from riskstream.pricing.forwards import (
    ForwardGreeks,
    forward_greeks,
    forward_price,
    forward_value,
    futures_delta,
    futures_rho,
    fx_forward_rate,
    fx_forward_rate_simple,
)
from riskstream.pricing.implied_vol import black76_implied_vol, bsm_implied_vol
from riskstream.pricing.kernels import (
    baw_price_grid,
    baw_price_grid_parallel,
    bsm_price_grid,
    bsm_price_grid_parallel,
)

__all__ = [
    "KEY_RATE_TENORS_Y",
    "BondRisk",
    "FixedRateBond",
    "ForwardGreeks",
    "Greeks",
    "ZeroCurve",
    "american_black76_greeks",
    "american_greeks",
    "american_price",
    "baw_implied_vol",
    "baw_price",
    "baw_price_grid",
    "baw_price_grid_parallel",
    "black76_greeks",
    "black76_implied_vol",
    "black76_price",
    "bond_accrued_interest",
    "bond_price_from_curve",
    "bond_price_from_yield",
    "bond_risk",
    "bond_yield_from_price",
    "bsm_greeks",
    "bsm_implied_vol",
    "bsm_price",
    "bsm_price_grid",
    "bsm_price_grid_parallel",
    "effective_duration",
    "forward_greeks",
    "forward_price",
    "forward_value",
    "futures_delta",
    "futures_rho",
    "fx_forward_rate",
    "fx_forward_rate_simple",
    "key_rate_durations",
]
