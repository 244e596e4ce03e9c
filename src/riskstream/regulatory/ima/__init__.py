"""The FRTB internal models approach (Basel MAR31-33): expected shortfall with liquidity
horizons, stressed calibration, non-modellable risk factors, desk eligibility and the
capital. See :mod:`.capital` for how the parts compose."""

from riskstream.regulatory.cascade import liquidity_adjusted_es
from riskstream.regulatory.ima.capital import IMAResult, compute_ima
from riskstream.regulatory.ima.desks import (
    DeskEligibility,
    Multiplier,
    capital_multiplier,
    desk_eligibility,
)
from riskstream.regulatory.ima.es import (
    FactorClassification,
    classify_factors,
    expected_shortfall,
    overlapping_moves,
)
from riskstream.regulatory.ima.nmrf import EligibilityResult, aggregate_ses, eligibility_test
from riskstream.regulatory.ima.stressed import StressedScaling, StressWindow, worst_window

__all__ = [
    "DeskEligibility",
    "EligibilityResult",
    "FactorClassification",
    "IMAResult",
    "Multiplier",
    "StressWindow",
    "StressedScaling",
    "aggregate_ses",
    "capital_multiplier",
    "classify_factors",
    "compute_ima",
    "desk_eligibility",
    "eligibility_test",
    "expected_shortfall",
    "liquidity_adjusted_es",
    "overlapping_moves",
    "worst_window",
]
