"""AML rule scenarios with thresholds per segment, evaluated on account features.

Each scenario is a red flag of the FFIEC BSA/AML Examination Manual (Appendix F, "Money
Laundering and Terrorist Financing Red Flags") written as a threshold test; a threshold may
differ by segment (a business deposits cash daily, a retail customer rarely), with a
``default`` for segments not listed. Scenarios:

- ``structuring``: near-threshold cash deposits (each in [0.9 T, T)) in 7 days ≥ ``count``;
- ``fan_in``: payments received in 72 h ≥ ``count`` and flow-through ≥ ``flow_through``;
- ``fan_out``: payments sent in 72 h ≥ ``count`` and flow-through ≥ ``flow_through``;
- ``pass_through``: share of the outflow paid within 48 h of an inflow ≥ ``share`` and
  flow-through ≥ ``flow_through``;
- ``high_risk_jurisdiction``: share of flow with high-risk countries ≥ ``share``;
- ``cycle``: closed walks of length 3 or 4 through the account ≥ ``count``.

An account alerts when any scenario fires.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from riskstream.core.errors import InputError
from riskstream.surveillance.aml_features import AccountFeatures

RuleParams = dict[str, dict[str, dict[str, float]]]
"""scenario → parameter → segment (or ``default``) → threshold."""

DEFAULT_RULES: RuleParams = {
    "structuring": {"count": {"default": 2, "business": 3}},
    "fan_in": {"count": {"default": 8, "business": 40}, "flow_through": {"default": 0.6}},
    "fan_out": {"count": {"default": 6, "business": 30}, "flow_through": {"default": 0.6}},
    "pass_through": {"share": {"default": 0.8}, "flow_through": {"default": 0.8}},
    "high_risk_jurisdiction": {"share": {"default": 0.3, "correspondent": 0.9}},
    "cycle": {"count": {"default": 1}},
}

_FEATURE = {
    ("structuring", "count"): "near_threshold_cash_7d",
    ("fan_in", "count"): "max_in_72h",
    ("fan_in", "flow_through"): "flow_through",
    ("fan_out", "count"): "max_out_72h",
    ("fan_out", "flow_through"): "flow_through",
    ("pass_through", "share"): "fast_out_share",
    ("pass_through", "flow_through"): "flow_through",
    ("high_risk_jurisdiction", "share"): "high_risk_flow_share",
}


def threshold_array(values: dict[str, float], segment: np.ndarray) -> np.ndarray:
    """Per account, the threshold of its segment (or the ``default``)."""
    default = values.get("default", np.inf)
    return np.array([values.get(str(s), default) for s in segment], dtype=float)


def evaluate_rules(
    features: AccountFeatures, params: RuleParams | None = None, segment: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Boolean alerts per scenario (arrays in the order of ``features.accounts``)."""
    params = params or DEFAULT_RULES
    seg = features.segment if segment is None else segment
    fired: dict[str, np.ndarray] = {}
    for scenario, by_param in params.items():
        if scenario == "cycle":
            walks = np.expm1(features.column("log_cycles_3")) + np.expm1(
                features.column("log_cycles_4")
            )
            fired[scenario] = walks >= threshold_array(by_param["count"], seg)
            continue
        hit = np.ones(features.values.shape[0], dtype=bool)
        for param, values in by_param.items():
            name = _FEATURE.get((scenario, param))
            if name is None:
                raise InputError("rule", f"{scenario}.{param}", "a known scenario parameter")
            hit &= features.column(name) >= threshold_array(values, seg)
        fired[scenario] = hit
    return fired


def any_rule(fired: dict[str, np.ndarray]) -> np.ndarray:
    return np.logical_or.reduce(list(fired.values()))


def scaled(params: RuleParams, scenario: str, param: str, factor: float) -> RuleParams:
    """A copy of ``params`` with one parameter multiplied by ``factor`` in every segment
    (the one-at-a-time sensitivity sweep)."""
    out: dict[str, Any] = copy.deepcopy(params)
    out[scenario][param] = {s: v * factor for s, v in out[scenario][param].items()}
    return out
