"""Bad input is refused at the boundary with the field, the value and what was expected."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.models import (
    DCCGarch,
    EWMACovariance,
    GarchPanel,
    GaussianCopula,
    HistoricalSimulation,
)
from riskstream.models._validation import as_returns_matrix


@settings(max_examples=50, deadline=None)
@given(
    st.integers(3, 40),
    st.integers(1, 4),
    st.sampled_from([np.nan, np.inf, -np.inf]),
    st.data(),
)
def test_first_non_finite_value_is_named(n: int, d: int, bad: float, data) -> None:
    x = np.random.default_rng(n * d).normal(0, 0.01, (n, d))
    row = data.draw(st.integers(0, n - 1))
    col = data.draw(st.integers(0, d - 1))
    x[row, col] = bad
    with pytest.raises(InputError) as info:
        as_returns_matrix(x)
    first = np.argwhere(~np.isfinite(x))[0]
    assert info.value.field == f"returns[{first[0]}, {first[1]}]"
    assert "finite" in info.value.expected


@pytest.mark.parametrize(
    ("model", "x", "field"),
    [
        (EWMACovariance(), np.ones((10, 2)), "returns[:, 0]"),
        (EWMACovariance(), np.zeros((1, 2)), "returns.n_obs"),
        (EWMACovariance(lam=-0.5), np.eye(5), "lam"),
        (HistoricalSimulation(), np.zeros((3, 2, 2)), "returns"),
        (HistoricalSimulation(), [["a", "b"]], "returns"),
        (GarchPanel(dist="skewt"), np.eye(200), "dist"),
        (GarchPanel(mean=3), np.eye(200), "mean"),
        (DCCGarch(), np.random.default_rng(0).normal(size=(50, 2)), "returns.n_obs"),
        (GaussianCopula(), np.full((20, 2), 1.0), "u"),
    ],
)
def test_models_name_the_bad_field(model, x, field: str) -> None:
    with pytest.raises(InputError) as info:
        model.fit(x)
    assert info.value.field == field
    assert str(info.value).startswith(f"field '{field}'")
