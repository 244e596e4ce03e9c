"""The valuation record: what one refresh knows about every instrument, frozen.

The engine's parts (option grids, the linear book, the VaR methods, margin, liquidity, the
snapshot builder) pass one :class:`Valuation` between them, and every snapshot carries it,
so a stage downstream (limits, service) reads prices and sensitivities from the snapshot,
never from the engine's working arrays. Why an instrument is not valued is a ``uint8``
code (:data:`REASONS`), not a string: a comparison over 10,000 instruments is one vector
operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskstream.core import wire

REASONS: tuple[str, ...] = (
    "",  # 0: valued
    "missing price",
    "matured bond",
    "bond yield not solvable from its price",
    "missing underlying price",
    "underlying without a spot risk factor",
    "expired option",
    "missing implied volatility",
    "negative volatility",
    "zero volatility",
)
"""Reason codes: ``REASONS[code]`` is the text of why an instrument is not valued (0: it is)."""

REASON_CODE: dict[str, int] = {text: code for code, text in enumerate(REASONS)}
VALUED = 0


def reason_text(codes: np.ndarray) -> list[str]:
    """The texts of ``codes``."""
    return [REASONS[int(c)] for c in np.asarray(codes)]


@dataclass(frozen=True, slots=True)
class Valuation:
    """Per-instrument valuation of one refresh (read-only arrays of shape (n,), base
    currency unless said).

    Attributes
    ----------
    price : the price used (mid, else last), instrument currency; NaN when unknown.
    unit_value : market value per unit (futures: notional).
    unit_delta : P&L per unit relative move of the spot factor.
    unit_gamma : per unit relative move squared.
    unit_vega : per 1.00 of vol.
    unit_sigma : daily price volatility per unit.
    fx : rate to base of each instrument's currency, as valued.
    reason : uint8 codes of :data:`REASONS` (0: valued).
    positions_version : the position keeper's version valued (0: the universe's).
    """

    price: np.ndarray
    unit_value: np.ndarray
    unit_delta: np.ndarray
    unit_gamma: np.ndarray
    unit_vega: np.ndarray
    unit_sigma: np.ndarray
    fx: np.ndarray
    reason: np.ndarray
    positions_version: int = 0

    def __post_init__(self) -> None:
        for name in (
            "price",
            "unit_value",
            "unit_delta",
            "unit_gamma",
            "unit_vega",
            "unit_sigma",
            "fx",
            "reason",
        ):
            a = np.array(getattr(self, name), copy=True)
            a.flags.writeable = False
            object.__setattr__(self, name, a)

    @property
    def valued(self) -> np.ndarray:
        """True where the instrument is valued."""
        return self.reason == VALUED


wire.register(Valuation)  # carried by every RiskSnapshot between processes (core.wire)
