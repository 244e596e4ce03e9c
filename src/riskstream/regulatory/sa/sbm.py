"""The sensitivities-based method of the FRTB standardised approach (Basel MAR21).

From net sensitivities in the reporting currency (one row per risk factor and CRIF risk type,
:mod:`riskstream.regulatory.sa.crif`) to the capital of each risk class and measure under
the three correlation scenarios of MAR21.6, and the SBM capital: the largest of the three
scenario totals (MAR21.7).

Delta and vega (MAR21.4), per bucket ``b``:

* net sensitivity ``s_k`` per risk factor (rows of the same factor netted, MAR21.4(2)),
  weighted ``WS_k = RW_k s_k`` (MAR21.4(3));
* ``K_b = sqrt(max(0, sum_k WS_k^2 + sum_k sum_{l != k} rho_kl WS_k WS_l))`` (MAR21.4(4)); the
  "other sector" buckets (CSR 16, equity 11) take ``K_b = sum_k |WS_k|`` (MAR21.56, 21.79);
* across buckets ``sqrt(sum_b K_b^2 + sum_b sum_{c != b} gamma_bc S_b S_c)`` with
  ``S_b = sum_k WS_k`` -- and only when that sum is negative, the alternative
  ``S_b = max(min(sum_k WS_k, K_b), -K_b)`` (MAR21.4(5)(b)); ``S_b`` is never clipped
  otherwise.

Curvature (MAR21.5): rows carry the net curvature charges ``CVR_k^+`` / ``CVR_k^-`` (losses
beyond delta, positive = loss); ``K_b = max(K_b^+, K_b^-)`` where the square root holds
``sum max(CVR_k, 0)^2 + sum rho_kl CVR_k CVR_l psi``, ``psi = 0`` when both are negative; the
selected side's ``S_b = sum_k CVR_k`` enters the cross-bucket sum with ``psi(S_b, S_c)``;
correlations are the delta ones squared (MAR21.100-21.101).

Correlations are built per bucket as dense matrices from the risk factors' attributes (the
rules of MAR21.45-21.95 in :mod:`~riskstream.regulatory.sa.correlations`), then mapped by
each scenario (:func:`~riskstream.regulatory.sa.params.scenario_correlation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from riskstream.regulatory.sa.correlations import (
    cross_bucket_correlation,
    curvature_correlation,
    delta_correlation,
    is_other_bucket,
    vega_correlation,
)
from riskstream.regulatory.sa.params import SCENARIOS, fx_pair_is_specified, sbm

RISK_CLASSES: tuple[str, ...] = ("GIRR", "CSR_NONSEC", "EQ", "COMM", "FX")
MEASURES: tuple[str, ...] = ("delta", "vega", "curvature")

RISK_TYPES: dict[str, tuple[str, str]] = {
    "GIRR_DELTA": ("GIRR", "delta"),
    "GIRR_INFLATION": ("GIRR", "delta"),
    "GIRR_XCCY": ("GIRR", "delta"),
    "GIRR_VEGA": ("GIRR", "vega"),
    "GIRR_CURV": ("GIRR", "curvature"),
    "CSR_DELTA": ("CSR_NONSEC", "delta"),
    "CSR_VEGA": ("CSR_NONSEC", "vega"),
    "CSR_CURV": ("CSR_NONSEC", "curvature"),
    "EQ_DELTA": ("EQ", "delta"),
    "EQ_VEGA": ("EQ", "vega"),
    "EQ_CURV": ("EQ", "curvature"),
    "COMM_DELTA": ("COMM", "delta"),
    "COMM_VEGA": ("COMM", "vega"),
    "COMM_CURV": ("COMM", "curvature"),
    "FX_DELTA": ("FX", "delta"),
    "FX_VEGA": ("FX", "vega"),
    "FX_CURV": ("FX", "curvature"),
}
"""CRIF risk types and the (risk class, measure) each feeds."""

# Risk classes whose bucket is the qualifier (a currency) rather than the bucket column.
_BUCKET_IS_QUALIFIER = frozenset({"GIRR", "FX"})


@dataclass(frozen=True)
class SbmConfig:
    """Choices the Basel text leaves to the bank.

    Parameters
    ----------
    specified_currency_reduction : bool
        Divide the GIRR tenor risk weights of the specified currencies (and the reporting
        currency) by sqrt(2) (MAR21.44). Default on.
    fx_specified_pair_reduction : bool
        Divide the FX risk weight of the specified currency pairs by sqrt(2) (MAR21.88).
        Default off.
    """

    specified_currency_reduction: bool = True
    fx_specified_pair_reduction: bool = False


@dataclass(frozen=True)
class MeasureResult:
    """One risk class and measure: the capital per scenario and the bucket figures."""

    charge: dict[str, float]
    buckets: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.charge, "buckets": self.buckets}


@dataclass(frozen=True)
class SbmResult:
    """The SBM capital: per risk class and measure, per scenario, and the total (MAR21.7)."""

    by_risk_class: dict[str, dict[str, MeasureResult]]
    reporting_currency: str
    config: SbmConfig

    @property
    def scenario_totals(self) -> dict[str, float]:
        """Sum over risk classes and measures, per scenario."""
        return {
            s: float(sum(m.charge[s] for rc in self.by_risk_class.values() for m in rc.values()))
            for s in SCENARIOS
        }

    @property
    def capital(self) -> float:
        """The SBM capital: the largest of the three scenario totals (MAR21.7)."""
        return max(self.scenario_totals.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": {**self.scenario_totals, "capital": self.capital},
            "by_risk_class": {
                rc: {m: r.as_dict() for m, r in measures.items()}
                for rc, measures in self.by_risk_class.items()
            },
        }


# --------------------------------------------------------------------------- risk weights
def _tenor_index(labels: pl.Series, known: list[str]) -> np.ndarray:
    pos = {t: i for i, t in enumerate(known)}
    return np.array([pos.get(str(x), -1) for x in labels.to_list()], dtype=np.int64)


def _vega_rw(risk_class: str, bucket: np.ndarray) -> np.ndarray:
    v = sbm()["vega"]
    if risk_class == "EQ":
        eq = sbm()["equity"]
        large = set(eq["large_cap_buckets"]) | set(eq["large_cap_index_buckets"])
        return np.where(np.isin(bucket, list(large)), v["equity_large_cap"], v["equity_small_cap"])
    key = {"GIRR": "girr", "CSR_NONSEC": "csr", "COMM": "commodity", "FX": "fx"}[risk_class]
    return np.full(bucket.shape, v[key])


def _delta_rw(risk_class: str, f: pl.DataFrame, reporting: str, config: SbmConfig) -> np.ndarray:
    p = sbm()
    bucket = f["bucket_no"].to_numpy()
    if risk_class == "GIRR":
        g = p["girr"]
        kind = f["risk_type"].to_numpy()
        tenor = f["tenor"].to_numpy()
        rw = np.where(
            kind == "GIRR_DELTA",
            np.asarray(g["risk_weights"])[np.maximum(tenor, 0)],
            np.where(kind == "GIRR_INFLATION", g["inflation_risk_weight"], 0.0),
        )
        rw = np.where(kind == "GIRR_XCCY", g["xccy_basis_risk_weight"], rw)
        if config.specified_currency_reduction:
            specified = set(g["specified_currencies"]) | {reporting}
            reduce = (kind == "GIRR_DELTA") & np.isin(f["bucket_key"].to_numpy(), list(specified))
            rw = np.where(reduce, rw / math.sqrt(2.0), rw)
        return rw
    if risk_class == "CSR_NONSEC":
        return np.asarray(p["csr"]["risk_weights"])[bucket - 1]
    if risk_class == "EQ":
        eq = p["equity"]
        repo = f["label1"].to_numpy() == "repo"
        return np.where(
            repo,
            np.asarray(eq["repo_risk_weights"])[bucket - 1],
            np.asarray(eq["spot_risk_weights"])[bucket - 1],
        )
    if risk_class == "COMM":
        return np.asarray(p["commodity"]["risk_weights"])[bucket - 1]
    rw = np.full(f.height, p["fx"]["risk_weight"])
    if config.fx_specified_pair_reduction:
        spec = np.array([fx_pair_is_specified(c, reporting) for c in f["bucket_key"].to_list()])
        rw = np.where(spec, rw / math.sqrt(2.0), rw)
    return rw


# --------------------------------------------------------------------------- aggregation
def scenario_matrix(rho: np.ndarray, scenario: str) -> np.ndarray:
    """``rho`` under ``scenario`` with a unit diagonal (a factor is itself)."""
    from riskstream.regulatory.sa.params import scenario_correlation

    out = scenario_correlation(rho, scenario).copy()
    np.fill_diagonal(out, 1.0)
    return out


def bucket_k(ws: np.ndarray, rho: np.ndarray) -> float:
    """``K_b = sqrt(max(0, ws' rho ws))`` with ``rho`` of unit diagonal (MAR21.4(4))."""
    return math.sqrt(max(0.0, float(ws @ rho @ ws)))


def across_buckets(k: np.ndarray, s: np.ndarray, gamma: np.ndarray) -> tuple[float, np.ndarray]:
    """Delta/vega across buckets (MAR21.4(5)); returns the charge and the ``S_b`` used (the
    alternative ``S_b = max(min(S_b, K_b), -K_b)`` only when the sum is negative)."""
    off = gamma - np.diag(np.diag(gamma))
    total = float(k @ k + s @ off @ s)
    if total < 0.0:
        s = np.clip(s, -k, k)
        total = float(k @ k + s @ off @ s)
    return math.sqrt(max(0.0, total)), s


def curvature_k(cvr: np.ndarray, rho: np.ndarray) -> float:
    """``K_b^+`` or ``K_b^-`` of MAR21.5(3): ``psi = 0`` when both charges are negative."""
    pos = np.maximum(cvr, 0.0)
    off = rho - np.diag(np.diag(rho))
    psi = ~((cvr[:, None] < 0) & (cvr[None, :] < 0))
    return math.sqrt(max(0.0, float(pos @ pos + cvr @ (off * psi) @ cvr)))


def _net(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return rows.group_by(keys, maintain_order=True).agg(pl.col("amount").sum())


def _prepare(rows: pl.DataFrame, risk_class: str) -> pl.DataFrame:
    p = sbm()
    if risk_class in _BUCKET_IS_QUALIFIER:
        rows = rows.with_columns(bucket_key=pl.col("qualifier"), bucket_no=pl.lit(0))
    else:
        rows = rows.with_columns(
            bucket_key=pl.col("bucket"), bucket_no=pl.col("bucket").cast(pl.Int64)
        )
    labels = {
        "GIRR": p["girr"]["tenor_labels"],
        "CSR_NONSEC": p["csr"]["tenor_labels"],
        "COMM": p["commodity"]["tenor_labels"],
    }.get(risk_class)
    tenor = _tenor_index(rows["label1"], labels) if labels else np.zeros(rows.height, np.int64)
    return rows.with_columns(tenor=pl.Series(tenor, dtype=pl.Int64))


def _delta_or_vega(
    rows: pl.DataFrame, risk_class: str, measure: str, reporting: str, config: SbmConfig
) -> MeasureResult:
    keys = ["bucket_key", "bucket_no", "risk_type", "qualifier", "label1", "label2", "tenor"]
    f = _net(_prepare(rows, risk_class), keys)
    if measure == "delta":
        rw = _delta_rw(risk_class, f, reporting, config)
    else:
        rw = _vega_rw(risk_class, f["bucket_no"].to_numpy())
    f = f.with_columns(ws=pl.Series(rw * f["amount"].to_numpy()))
    bucket_keys = sorted(f["bucket_key"].unique().to_list(), key=_bucket_order)
    per_bucket = []
    k = {s: np.zeros(len(bucket_keys)) for s in SCENARIOS}
    sums = np.zeros(len(bucket_keys))
    parts = f.partition_by("bucket_key", as_dict=True, maintain_order=True)
    for i, b in enumerate(bucket_keys):
        fb = parts[(b,)]
        ws = fb["ws"].to_numpy()
        bno = int(fb["bucket_no"][0])
        sums[i] = ws.sum()
        if is_other_bucket(risk_class, bno):
            for s in SCENARIOS:
                k[s][i] = float(np.abs(ws).sum())
        else:
            corr = delta_correlation if measure == "delta" else vega_correlation
            rho = corr(risk_class, bno, fb)
            for s in SCENARIOS:
                k[s][i] = bucket_k(ws, scenario_matrix(rho, s))
        per_bucket.append(
            {"bucket": b, "sensitivity": float(fb["amount"].sum()), "weighted": float(sums[i])}
        )
    gamma = cross_bucket_correlation(risk_class, [_gamma_key(risk_class, b) for b in bucket_keys])
    charge = {}
    for s in SCENARIOS:
        charge[s], s_used = across_buckets(k[s], sums, scenario_matrix(gamma, s))
        for i, entry in enumerate(per_bucket):
            entry[s] = {"K_b": float(k[s][i]), "S_b": float(s_used[i])}
    return MeasureResult(charge, per_bucket)


def _curvature(rows: pl.DataFrame, risk_class: str) -> MeasureResult:
    f = _net(_prepare(rows, risk_class), ["bucket_key", "bucket_no", "qualifier", "label1"])
    bucket_keys = sorted(f["bucket_key"].unique().to_list(), key=_bucket_order)
    per_bucket: list[dict[str, Any]] = []
    k = {s: np.zeros(len(bucket_keys)) for s in SCENARIOS}
    sb = {s: np.zeros(len(bucket_keys)) for s in SCENARIOS}
    parts = f.partition_by("bucket_key", as_dict=True, maintain_order=True)
    for i, b in enumerate(bucket_keys):
        fb = parts[(b,)]
        names = fb["qualifier"].unique(maintain_order=True).to_numpy()
        pos = {n: j for j, n in enumerate(names)}
        up = np.zeros(names.size)
        down = np.zeros(names.size)
        for q, side, amount in fb.select("qualifier", "label1", "amount").iter_rows():
            (up if side == "up" else down)[pos[q]] += amount
        bno = int(fb["bucket_no"][0])
        entry: dict[str, Any] = {
            "bucket": b,
            "cvr_up": float(up.sum()),
            "cvr_down": float(down.sum()),
        }
        rho = curvature_correlation(risk_class, bno, names)
        for s in SCENARIOS:
            if is_other_bucket(risk_class, bno):  # MAR21.56(2), MAR21.79(2)
                kp, km = float(np.maximum(up, 0).sum()), float(np.maximum(down, 0).sum())
            else:
                r = scenario_matrix(rho, s)
                kp, km = curvature_k(up, r), curvature_k(down, r)
            # MAR21.5(3)(a): the larger side; on a tie, up when sum CVR+ > sum CVR-.
            upward = kp > km or (kp == km and up.sum() > down.sum())
            k[s][i] = max(kp, km)
            sb[s][i] = up.sum() if upward else down.sum()
            entry[s] = {
                "K_b": float(k[s][i]),
                "S_b": float(sb[s][i]),
                "selected": "up" if upward else "down",
            }
        per_bucket.append(entry)
    gamma = (
        cross_bucket_correlation(risk_class, [_gamma_key(risk_class, b) for b in bucket_keys]) ** 2
    )
    charge = {}
    for s in SCENARIOS:
        g = scenario_matrix(gamma, s)
        off = g - np.diag(np.diag(g))
        x = sb[s]
        psi = ~((x[:, None] < 0) & (x[None, :] < 0))
        total = float(k[s] @ k[s] + x @ (off * psi) @ x)
        charge[s] = math.sqrt(max(0.0, total))
    return MeasureResult(charge, per_bucket)


def _bucket_order(b: Any) -> tuple[int, Any]:
    text = str(b)
    return (0, int(text)) if text.isdigit() else (1, text)


def _gamma_key(risk_class: str, b: Any) -> Any:
    return b if risk_class in _BUCKET_IS_QUALIFIER else int(b)


def sbm_capital(
    crif: pl.DataFrame, reporting_currency: str, config: SbmConfig | None = None
) -> SbmResult:
    """The SBM capital of validated CRIF rows whose amounts are in the reporting currency.

    Parameters
    ----------
    crif : polars.DataFrame
        Columns ``risk_type, qualifier, bucket, label1, label2, amount`` (strings but
        ``amount``, float64, reporting currency), as :func:`~riskstream.regulatory.sa.crif.
        read_crif` returns them.
    reporting_currency : str
        The bank's reporting currency (its GIRR curves count as specified, MAR21.44).
    config : SbmConfig, optional

    Returns
    -------
    SbmResult
        Every risk class and measure (zero where no rows), per scenario, with bucket figures.
    """
    config = config or SbmConfig()
    rc_of = pl.col("risk_type").replace_strict(
        {k: v[0] for k, v in RISK_TYPES.items()}, return_dtype=pl.String
    )
    measure_of = pl.col("risk_type").replace_strict(
        {k: v[1] for k, v in RISK_TYPES.items()}, return_dtype=pl.String
    )
    crif = crif.with_columns(risk_class=rc_of, measure=measure_of)
    out: dict[str, dict[str, MeasureResult]] = {}
    for rc in RISK_CLASSES:
        out[rc] = {}
        for m in MEASURES:
            rows = crif.filter((pl.col("risk_class") == rc) & (pl.col("measure") == m))
            if rows.height == 0:
                out[rc][m] = MeasureResult(dict.fromkeys(SCENARIOS, 0.0), [])
            elif m == "curvature":
                out[rc][m] = _curvature(rows, rc)
            else:
                out[rc][m] = _delta_or_vega(rows, rc, m, reporting_currency, config)
    return SbmResult(out, reporting_currency, config)
