"""Vectorised pricers and Greeks: equities, futures, FX, bonds and options."""

from riskstream.pricing.black_scholes import black76_price, bsm_price
from riskstream.pricing.bonds import bond_price_from_yield

__all__ = ["black76_price", "bond_price_from_yield", "bsm_price"]
