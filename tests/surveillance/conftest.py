from __future__ import annotations

import numpy as np
import pytest

from riskstream.surveillance.aml_features import AccountFeatures, build_features
from riskstream.surveillance.aml_generator import GeneratedData, GeneratorConfig, generate
from riskstream.surveillance.aml_model import AmlModel, ModelConfig

SMALL_MODEL = ModelConfig(lgbm_n_estimators=60, forest_trees=40, cv_folds=3, n_peer_groups=4)


def labels_for(features: AccountFeatures, data: GeneratedData) -> np.ndarray:
    lookup = dict(zip(data.labels["account"], data.labels["is_suspicious"], strict=True))
    return np.array([float(lookup[a]) if a in lookup else np.nan for a in features.accounts])


@pytest.fixture(scope="session")
def small_data() -> GeneratedData:
    return generate(GeneratorConfig(n_accounts=700, days=40, seed=5))


@pytest.fixture(scope="session")
def small_features(small_data: GeneratedData) -> AccountFeatures:
    return build_features(small_data.transactions, small_data.accounts)


@pytest.fixture(scope="session")
def small_model(small_features: AccountFeatures, small_data: GeneratedData) -> AmlModel:
    return AmlModel(SMALL_MODEL).fit(small_features, labels_for(small_features, small_data))
