"""Risk budgeting by Euler contribution: allocate a VaR/ES budget, report consumption.

Euler allocation (Tasche 2000; Litterman 1996 "Hot spots and hedges") splits a
homogeneous risk measure into contributions that add up to the whole,
:math:`R = \\sum_b C_b`, so a budget :math:`B` can be split the same way and each book's
*consumption* :math:`C_b / B_b` compared with 1. :meth:`RiskBudget.fit` allocates
``total_budget`` across books in proportion to their contributions at allocation time
(``method="euler"``), equally (``"equal"``), or by given weights; :meth:`RiskBudget.consumption`
reports each book's current contribution against its allocation and flags the books over
budget. A negative contribution (a hedging book) gets no budget and is never over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskstream.core.errors import InputError


@dataclass(frozen=True)
class BudgetLine:
    """One book's budget, what it consumes, and whether it is over."""

    label: str
    allocation: float
    contribution: float
    consumption: float  # contribution / allocation
    over_budget: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def aggregate(contribution: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Sum contributions by label (e.g. strategy or trader of each position)."""
    names, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    sums = np.bincount(codes, weights=np.asarray(contribution, dtype=np.float64))
    return {str(n): float(s) for n, s in zip(names, sums, strict=True)}


class RiskBudget:
    """Allocate a risk budget across books and track its consumption.

    Parameters
    ----------
    total_budget : float
        The budget to allocate (currency; e.g. the firm VaR limit).
    method : {"euler", "equal"} or mapping of label to weight
    """

    def __init__(self, total_budget: float, method: str | Mapping[str, float] = "euler"):
        if not np.isfinite(total_budget) or total_budget <= 0:
            raise InputError("total_budget", total_budget, "a positive finite budget")
        if isinstance(method, str) and method not in ("euler", "equal"):
            raise InputError("method", method, "euler, equal or a mapping of weights")
        self.total_budget = float(total_budget)
        self.method = method

    def fit(self, contribution: np.ndarray, labels: np.ndarray) -> RiskBudget:
        """Allocate the budget from the contributions of each book (sets ``allocation_``)."""
        by_label = aggregate(contribution, labels)
        if isinstance(self.method, Mapping):
            weights = {k: float(self.method.get(k, 0.0)) for k in by_label}
            if any(w < 0 for w in weights.values()):
                raise InputError("method", dict(self.method), "non-negative weights")
        elif self.method == "equal":
            weights = {k: 1.0 for k in by_label}
        else:
            weights = {k: max(v, 0.0) for k, v in by_label.items()}
        total = sum(weights.values())
        if total <= 0:
            raise InputError("contribution", by_label, "at least one book adding risk")
        self.allocation_ = {k: self.total_budget * w / total for k, w in weights.items()}
        return self

    def consumption(self, contribution: np.ndarray, labels: np.ndarray) -> list[BudgetLine]:
        """Each book's current contribution against its allocation, largest use first."""
        if not hasattr(self, "allocation_"):
            raise InputError("budget", "unfitted", "fit() to be called first")
        now = aggregate(contribution, labels)
        lines = []
        for label in sorted(set(now) | set(self.allocation_)):
            alloc = self.allocation_.get(label, 0.0)
            used = now.get(label, 0.0)
            ratio = used / alloc if alloc > 0 else (np.inf if used > 0 else 0.0)
            lines.append(BudgetLine(label, alloc, used, float(ratio), bool(used > alloc)))
        return sorted(lines, key=lambda x: -x.consumption)
