"""The AML models: fit, score, alert at the tuned threshold, SHAP explanations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.surveillance.aml_features import build_features
from riskstream.surveillance.aml_generator import GeneratorConfig, generate
from riskstream.surveillance.aml_model import CHAMPION, FAMILIES, AmlModel, threshold_at_precision
from tests.surveillance.conftest import labels_for


def test_threshold_at_precision_is_the_highest_recall_meeting_the_target() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0], bool)
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.3, 0.2, 0.1])
    thr, rule = threshold_at_precision(y, s, 0.6)
    # by hand: at 0.4 precision 4/7 < 0.6; at 0.6 precision 3/4 = 0.75, recall 3/4
    assert (thr, rule) == (0.6, "recall@precision")


def test_fit_scores_every_account_and_generalises_to_another_seed(
    small_model, tmp_path: Path
) -> None:
    assert set(small_model.models_) == set(FAMILIES)
    held = generate(GeneratorConfig(n_accounts=700, days=40, seed=6))
    features = build_features(held.transactions, held.accounts)
    y = labels_for(features, held) == 1
    scores = small_model.score(features)
    assert scores.score.shape == (len(features.accounts),)
    assert ((scores.score >= 0) & (scores.score <= 1)).all()
    assert (scores.alert == (scores.score >= scores.threshold)).all()
    from sklearn.metrics import average_precision_score

    # a loose floor on a small, quickly fitted model (the bench measures the real figure)
    assert average_precision_score(y, scores.score) > 0.5
    again = AmlModel.load(small_model.save(tmp_path / "m"))
    assert np.array_equal(again.score(features).score, scores.score)


def test_shap_explanations_are_additive_and_match_lightgbm_treeshap(
    small_model, small_features
) -> None:
    rows = np.arange(5)
    explained = small_model.explain(small_features, rows, top=len(small_model.feature_names_))
    X = small_model.design(small_features)[0][rows]
    # LightGBM's own TreeSHAP (pred_contrib) is the independent reference; the champion is
    # the mean of its fold models, so the reference is the mean of theirs, and the
    # contributions sum to the mean of their log-odds margins
    members = small_model.models_[CHAMPION].models
    assert len(members) == small_model.config.cv_folds
    ref = np.mean([m.predict(X, pred_contrib=True) for m in members], axis=0)
    margin = np.mean([m.predict(X, raw_score=True) for m in members], axis=0)
    # the champion's score is the mean of the fold models' probabilities (CV bagging)
    mean_p = np.mean([m.predict_proba(X)[:, 1] for m in members], axis=0)
    assert np.allclose(small_model.models_[CHAMPION].predict_proba(X)[:, 1], mean_p)
    for k, row in enumerate(rows):
        mine = {
            e["feature"]: e["contribution"]
            for e in explained
            if e["account"] == small_features.accounts[row]
        }
        for j, name in enumerate(small_model.feature_names_):
            assert mine[name] == pytest.approx(ref[k, j], abs=1e-6)
        assert sum(mine.values()) + ref[k, -1] == pytest.approx(margin[k], abs=1e-6)


def test_too_few_positive_labels_are_refused(small_features) -> None:
    y = np.zeros(len(small_features.accounts))
    y[:2] = 1
    with pytest.raises(InputError, match="is_suspicious"):
        AmlModel().fit(small_features, y)
