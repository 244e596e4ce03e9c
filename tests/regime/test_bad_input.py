"""Bad input gets a clear error: too few rows, NaN, constant series, wrong shapes, a model
file of another version or format."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from riskstream.core.errors import InputError, ModelError
from riskstream.regime import (
    CusumDetector,
    DynamicFactorDetector,
    HMMDetector,
    LSTMDetector,
    MosumDetector,
    MSGarchDetector,
    RegimeEnsemble,
    load_model,
    read_header,
    save_model,
)
from riskstream.regime.io import VERSION

ALL = [HMMDetector, MSGarchDetector, DynamicFactorDetector, CusumDetector, MosumDetector,
       LSTMDetector, RegimeEnsemble]  # fmt: skip


def _returns(n: int = 600, n_assets: int = 3) -> np.ndarray:
    return np.random.default_rng(0).normal(0, 0.01, (n, n_assets))


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.__name__)
def test_too_few_rows(model) -> None:
    with pytest.raises(InputError, match=r"rows.*expected at least \d+ observations"):
        model().fit(_returns(20), np.zeros(20, dtype=int))


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.__name__)
def test_nan_named_by_row_and_column(model) -> None:
    r = _returns()
    r[123, 2] = np.nan
    with pytest.raises(InputError, match=r"returns\[123, 2\].*nan.*finite return"):
        model().fit(r, np.zeros(len(r), dtype=int))


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.__name__)
def test_constant_series(model) -> None:
    r = _returns()
    r[:, 1] = 0.0
    with pytest.raises(InputError, match=r"returns\[:, 1\].*constant.*a series that varies"):
        model().fit(r, np.zeros(len(r), dtype=int))


def test_unfitted_and_wrong_width() -> None:
    with pytest.raises(ModelError, match="not fitted"):
        HMMDetector().predict_proba(_returns())
    model = HMMDetector(2, n_init=1).fit(_returns())
    with pytest.raises(InputError, match=r"returns columns.*3 assets"):
        model.predict_proba(_returns(n_assets=2))
    with pytest.raises(InputError, match=r"r_t\[1\].*inf"):
        model.filter(np.array([0.0, np.inf, 0.0]))


def test_bad_labels() -> None:
    with pytest.raises(InputError, match="labels"):
        CusumDetector(3).fit(_returns(), np.full(600, 5))


def test_model_file_of_another_version(tmp_path) -> None:
    path = save_model(tmp_path / "m.regime", HMMDetector(2, n_init=1).fit(_returns()), ["a"])
    model, header = load_model(path)
    assert header["version"] == VERSION and isinstance(model, HMMDetector)
    with zipfile.ZipFile(path) as zf:
        payload = zf.read("model.pkl")
    old = tmp_path / "old.regime"
    with zipfile.ZipFile(old, "w") as zf:
        zf.writestr("header.json", json.dumps({**header, "version": VERSION + 1}))
        zf.writestr("model.pkl", payload)
    with pytest.raises(InputError, match=rf"model version.*{VERSION + 1}.*version {VERSION}"):
        load_model(old)
    # files of earlier versions (1: before the estimator interface; 2: before the fitted
    # smoothing ratio) are refused before unpickling, with the way out in the message
    assert VERSION == 3
    for earlier in (1, 2):
        path = tmp_path / f"v{earlier}.regime"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("header.json", json.dumps({**header, "version": earlier}))
            zf.writestr("model.pkl", b"not a pickle: never read")
        with pytest.raises(InputError, match=rf"model version.*{earlier}.*refit the model"):
            load_model(path)


def test_not_a_model_file(tmp_path) -> None:
    bogus = tmp_path / "x.regime"
    bogus.write_text("hello")
    with pytest.raises(InputError, match="riskstream-regime-model"):
        read_header(bogus)
    with pytest.raises(InputError, match="an existing regime model file"):
        read_header(tmp_path / "missing.regime")
