"""The correlations of the sensitivities-based method (Basel MAR21.45-21.101), medium scenario.

Built as dense matrices over one bucket's risk factors from their attributes (curve, tenor,
name, spot/repo, delivery location, option maturity), with the parameters of
``regulatory/data/mar21_sbm.toml``; the MAR21.6 scenarios are applied by the caller
(:func:`riskstream.regulatory.sa.sbm.scenario_matrix`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from riskstream.regulatory.sa.params import sbm


def maturity_years(label: str) -> float:
    """``3m`` -> 0.25, ``10y`` -> 10.0 (vega option and underlying maturities)."""
    unit = label[-1]
    return float(label[:-1]) / (12.0 if unit == "m" else 1.0)


def same_label(values: np.ndarray) -> np.ndarray:
    """Pairwise equality of labels, compared as integer codes (not Python strings)."""
    codes = np.unique(values, return_inverse=True)[1].ravel()
    return codes[:, None] == codes[None, :]


def maturity_correlation(years: np.ndarray) -> np.ndarray:
    """``exp(-alpha |Tk - Tl| / min(Tk, Tl))``, alpha = 1 % (MAR21.93)."""
    a = sbm()["vega"]["maturity_alpha"]
    lo = np.minimum(years[:, None], years[None, :])
    return np.exp(-a * np.abs(years[:, None] - years[None, :]) / lo)


def name_correlation(risk_class: str, bucket: int, names: np.ndarray) -> np.ndarray:
    """The correlation of two risk factors' names (1 when the same name)."""
    p = sbm()
    if risk_class == "CSR_NONSEC":
        c = p["csr"]
        other = c["index_name_correlation"] if bucket in (17, 18) else c["name_correlation"]
    elif risk_class == "EQ":
        other = p["equity"]["name_correlation"][bucket - 1]
    elif risk_class == "COMM":
        other = p["commodity"]["commodity_correlation"][bucket - 1]
    else:
        other = 1.0
    return np.where(same_label(names), 1.0, other)


def delta_correlation(risk_class: str, bucket: int, f: pl.DataFrame) -> np.ndarray:
    """Medium intra-bucket delta correlations of the risk factors of one bucket."""
    p = sbm()
    if risk_class == "GIRR":
        g = p["girr"]
        kind = f["risk_type"].to_numpy()
        tenor = f["tenor"].to_numpy()
        curve = f["label2"].to_numpy()
        yld = kind == "GIRR_DELTA"
        table = np.asarray(g["tenor_correlation"])
        t = np.maximum(tenor, 0)
        rho = table[t[:, None], t[None, :]]  # MAR21.46
        rho = np.where(
            same_label(curve), rho, rho * g["different_tenor_different_curve"]
        )  # 21.45/47
        both_yield = yld[:, None] & yld[None, :]
        infl = kind == "GIRR_INFLATION"
        xccy = kind == "GIRR_XCCY"
        other_curve = np.where(same_label(curve), 1.0, g["same_tenor_different_curve"])
        rho = np.where(both_yield, rho, other_curve)  # two inflation / two basis curves
        mixed_infl = (infl[:, None] & yld[None, :]) | (yld[:, None] & infl[None, :])
        rho = np.where(mixed_infl, g["inflation_correlation"], rho)  # MAR21.48
        any_xccy = xccy[:, None] ^ xccy[None, :]
        rho = np.where(any_xccy, g["xccy_basis_correlation"], rho)  # MAR21.49
        return rho
    names = f["qualifier"].to_numpy()
    rho = name_correlation(risk_class, bucket, names)
    if risk_class == "CSR_NONSEC":
        c = p["csr"]
        rho = rho * np.where(same_label(f["tenor"].to_numpy()), 1.0, c["tenor_correlation"])
        rho = rho * np.where(same_label(f["label2"].to_numpy()), 1.0, c["basis_correlation"])
    elif risk_class == "EQ":
        kind = f["label1"].to_numpy()
        rho = rho * np.where(same_label(kind), 1.0, p["equity"]["spot_repo_correlation"])
    elif risk_class == "COMM":
        c = p["commodity"]
        rho = rho * np.where(same_label(f["tenor"].to_numpy()), 1.0, c["tenor_correlation"])
        rho = rho * np.where(same_label(f["label2"].to_numpy()), 1.0, c["basis_correlation"])
    return rho


def vega_correlation(risk_class: str, bucket: int, f: pl.DataFrame) -> np.ndarray:
    """Medium intra-bucket vega correlations (MAR21.93 GIRR, MAR21.94 the others)."""
    opt = np.array([maturity_years(x) for x in f["label1"].to_list()])
    rho = maturity_correlation(opt)
    if risk_class == "GIRR":
        und = np.array([maturity_years(x) for x in f["label2"].to_list()])
        rho = rho * maturity_correlation(und)
    else:
        rho = rho * name_correlation(risk_class, bucket, f["qualifier"].to_numpy())
    return np.minimum(rho, 1.0)


def curvature_correlation(risk_class: str, bucket: int, names: np.ndarray) -> np.ndarray:
    """Medium curvature correlations: the delta name correlation squared (MAR21.100; for CSR
    only the name term applies, MAR21.100(1))."""
    return name_correlation(risk_class, bucket, names) ** 2


def cross_bucket_correlation(risk_class: str, buckets: list[Any]) -> np.ndarray:
    """Medium cross-bucket correlations of the delta/vega measure (MAR21.50, 21.57, 21.80,
    21.85, 21.89)."""
    p = sbm()
    n = len(buckets)
    if risk_class == "GIRR":
        g = np.full((n, n), p["girr"]["cross_bucket"])
    elif risk_class == "FX":
        g = np.full((n, n), p["fx"]["cross_bucket"])
    elif risk_class == "CSR_NONSEC":
        c = p["csr"]
        b = np.asarray(buckets, dtype=np.int64)
        sector = np.asarray(c["sector_of_bucket"])[b - 1] - 1
        g = np.asarray(c["sector_correlation"])[sector[:, None], sector[None, :]]
        ig = b <= 8
        hy = (b >= 9) & (b <= 15)
        cross = (ig[:, None] & hy[None, :]) | (hy[:, None] & ig[None, :])
        g = g * np.where(cross, c["rating_correlation"], 1.0)
    elif risk_class == "EQ":
        e = p["equity"]
        b = np.asarray(buckets, dtype=np.int64)
        g = np.full((n, n), e["cross_bucket_otherwise"])
        small = b <= 10
        g = np.where(small[:, None] & small[None, :], e["cross_bucket_large"], g)
        idx = (b == 12) | (b == 13)
        g = np.where(idx[:, None] & idx[None, :], e["cross_bucket_indices"], g)
        other = b == e["other_bucket"]
        g = np.where(other[:, None] | other[None, :], 0.0, g)
    else:
        c = p["commodity"]
        b = np.asarray(buckets, dtype=np.int64)
        g = np.full((n, n), c["cross_bucket"])
        other = b == c["other_bucket"]
        g = np.where(other[:, None] | other[None, :], 0.0, g)
    np.fill_diagonal(g, 1.0)
    return g


def is_other_bucket(risk_class: str, bucket: Any) -> bool:
    p = sbm()
    if risk_class == "CSR_NONSEC":
        return bucket == p["csr"]["other_bucket"]
    if risk_class == "EQ":
        return bucket == p["equity"]["other_bucket"]
    return False
