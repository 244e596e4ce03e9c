"""AML account models: peer groups, a decision tree, a random forest and LightGBM.

``AmlModel.fit(features, labels)`` fits, on the labelled accounts:

- **peer groups**: k-means on the standardised features (the peer-group analysis of the
  FFIEC BSA/AML Examination Manual, "Suspicious Activity Reporting": compare an account with
  accounts like it); each account's distance to its group centre joins the features, and the
  group names the segment when no reference segment is given;
- three classifiers — a shallow **decision tree** (explainable rules a reviewer can read),
  a **random forest** and a gradient-boosted **LightGBM** model (the champion);
- **collective classification** (Lu & Getoor, "Link-Based Classification", ICML 2003): a
  first LightGBM stage scores every account; the mean and largest first-stage score of its
  counterparties in the money-movement network join the features of the final models —
  launderers trade with each other (rings, mules and their collector), so a neighbour's
  suspicion is evidence. A third such feature looks only at the counterparties the account
  *shares a further counterparty with* (the closed triangles of the network): members of
  one laundering group are recruited around the same accounts and pay each other, so a
  suspicious counterparty inside the account's own closed neighbourhood is stronger
  evidence than one met at random (Colladon & Remondi, "Using social network analysis to
  prevent money laundering", Expert Systems with Applications 67, 2017: embeddedness and
  clustering of the accounts around a suspect). The first stage is stacked
  (Wolpert, "Stacked Generalization", Neural Networks 5, 1992): an account labelled at fit
  has its *out-of-fold* first-stage score, so its own label never leaks into its
  neighbours' features, and it keeps that score when the same bank is scored (stored with
  the model, keyed by account and a fingerprint of its feature row); every other account
  has the mean of the first stage's fold models. So the neighbour features of the accounts
  scored are built as they were when the threshold was tuned — a first stage refitted on
  all labels scored its own training accounts in-sample, sharper than at fit, and the
  unlabelled accounts around them then scored higher than out-of-fold, under the stated
  precision (docs/benchmarks.md, seventh round);
- for each, **out-of-fold** scores (stratified k-fold), on which its alert threshold is
  tuned by ``threshold_rule``: ``"both_floors"`` (default) — the threshold at which the
  evidence that precision ≥ ``target_precision`` *and* recall ≥ ``target_recall`` is
  strongest (:func:`threshold_for_targets`), so the operating point keeps a margin on both
  sides on new data; ``"recall_at_precision"`` — the highest recall at precision ≥
  ``target_precision``, or the best F1 when no threshold reaches it (it sits on the
  precision floor by construction, and new banks fell under it: docs/benchmarks.md).
  Tuning on out-of-fold scores keeps the threshold honest: in-sample scores of a forest
  are nearly perfect and would put it far too high. Scores of new accounts are the mean of
  the k fold models (:class:`FoldMean`), the same models whose out-of-fold scores set the
  threshold, so the threshold keeps its stated precision (a refit on all labels did not).

``score`` gives each account a score in [0, 1] and an alert flag at the threshold of its
segment (or the global one); ``explain`` gives the top SHAP contributions (Lundberg & Lee,
"A Unified Approach to Interpreting Model Predictions", NeurIPS 2017; TreeSHAP, Lundberg et
al. 2020) of the champion for each alert.

Persistence: ``save(dir)`` writes ``model.joblib`` (the fitted estimators; like any pickle,
load only model folders you trust) and ``model.json`` (features, thresholds, metrics,
version — human-readable).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from riskstream.core.errors import InputError
from riskstream.surveillance.aml_features import AccountFeatures, FeatureConfig, row_max

MODEL_VERSION = "2.1.0"
FAMILIES = ("lightgbm", "random_forest", "decision_tree")
CHAMPION = "lightgbm"
ThresholdRule = Literal["recall_at_precision", "both_floors"]
THRESHOLD_RULES: tuple[str, ...] = get_args(ThresholdRule)
# the columns the design adds after the account features, in order
DESIGN_EXTRAS = (
    "peer_distance",
    "neighbour_score_mean",
    "neighbour_score_max",
    "closed_neighbour_score_max",
)


@dataclass(frozen=True)
class ModelConfig:
    """Settings of :class:`AmlModel`."""

    n_peer_groups: int = 6
    target_precision: float = 0.6
    target_recall: float = 0.8
    threshold_rule: ThresholdRule = "both_floors"
    cv_folds: int = 4
    seed: int = 11
    lgbm_n_estimators: int = 200
    lgbm_learning_rate: float = 0.05
    lgbm_num_leaves: int = 15
    lgbm_min_child_samples: int = 10
    forest_trees: int = 100
    tree_depth: int = 5

    def __post_init__(self) -> None:
        if self.threshold_rule not in THRESHOLD_RULES:
            raise InputError("threshold_rule", self.threshold_rule, " or ".join(THRESHOLD_RULES))


@dataclass(frozen=True)
class Scores:
    """Account scores: ``score`` and ``alert`` of the champion, every family's score in
    ``by_model``, the peer group and segment of each account."""

    accounts: np.ndarray
    score: np.ndarray
    alert: np.ndarray
    threshold: np.ndarray
    segment: np.ndarray
    peer_group: np.ndarray
    by_model: dict[str, np.ndarray] = field(default_factory=dict)


def threshold_at_precision(
    y: np.ndarray, score: np.ndarray, target_precision: float
) -> tuple[float, str]:
    """The threshold of highest recall with precision ≥ ``target_precision`` (rule
    ``"recall@precision"``), else the best-F1 threshold (rule ``"max_f1"``)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, score)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    ok = precision >= target_precision
    if ok.any():
        top = recall[ok].max()
        best = np.flatnonzero(ok & (recall == top))  # equal recall: the fewest alerts
        return float(thresholds[best].max()), "recall@precision"
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        where=precision + recall > 0,
        out=np.zeros_like(precision),
    )
    return float(thresholds[int(np.argmax(f1))]), "max_f1"


def threshold_for_targets(
    y: np.ndarray, score: np.ndarray, target_precision: float, target_recall: float
) -> tuple[float, str]:
    """The alert threshold at which the evidence that precision ≥ ``target_precision``
    *and* recall ≥ ``target_recall`` is strongest.

    Each floor is a one-sided test of a proportion: z_P = (P − P*) / √(P*(1−P*)/alerts)
    and z_R = (R − R*) / √(R*(1−R*)/positives). The pair holds only if both do, and the
    intersection–union test of the two (Berger, "Multiparameter hypothesis testing and
    acceptance sampling", Technometrics 24(4), 1982) is as strong as the weaker one, so
    the threshold maximises min(z_P, z_R). Where the scores leave room for both floors it
    lands inside that room, with a margin on each side in proportion to its sampling noise
    — unlike "highest recall at precision ≥ P*", which puts the operating point on the
    precision floor by construction, so that new data falls below it about half the time.
    Where no threshold meets both it is the one that misses them least, in the same units.
    Rule: ``"both_targets"`` if min(z_P, z_R) ≥ 0 at the chosen threshold, else
    ``"nearest_targets"``. Equal margins: the fewest alerts. Measured against the default
    rule on fresh AMLSim banks and our generator in docs/benchmarks.md
    (``bench/aml_external.py --threshold-rule both_floors``).
    """
    for name, value in (("target_precision", target_precision), ("target_recall", target_recall)):
        if not 0.0 < value < 1.0:
            raise InputError(name, value, "a number strictly between 0 and 1")
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    # each distinct score is a candidate threshold: alert on every account scoring ≥ it
    last = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]
    thresholds = ranked[last]
    alerts = last + 1.0
    true_alerts = np.cumsum(y[order])[last]
    positives = max(int(y.sum()), 1)
    precision, recall = true_alerts / alerts, true_alerts / positives
    z_precision = (precision - target_precision) / np.sqrt(
        target_precision * (1.0 - target_precision) / alerts
    )
    z_recall = (recall - target_recall) / np.sqrt(target_recall * (1.0 - target_recall) / positives)
    margin = np.minimum(z_precision, z_recall)
    best = np.flatnonzero(margin == margin.max())
    chosen = int(best[np.argmax(thresholds[best])])
    rule = "both_targets" if margin[chosen] >= 0 else "nearest_targets"
    return float(thresholds[chosen]), rule


class FoldMean:
    """The mean predicted probability of the k fold models of the cross-validation.

    The alert threshold is tuned on out-of-fold scores, each made by a model fitted on
    (k-1)/k of the labels; scoring new accounts with the mean of those same k models (CV
    bagging, Breiman, "Bagging Predictors", 1996) keeps the scores on the scale the
    threshold was tuned on. A model refitted on all labels is more confident than its fold
    models, and at the out-of-fold threshold it alerted more and less precisely than the
    stated precision (bench/aml_external.py, docs/benchmarks.md).
    """

    def __init__(self, models: list[Any]):
        self.models = models

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Shape (n_accounts, 2): the mean of the fold models' class probabilities."""
        return np.mean([m.predict_proba(X) for m in self.models], axis=0)


class AmlModel:
    """Peer groups + decision tree + random forest + LightGBM on account features."""

    def __init__(
        self, config: ModelConfig | None = None, feature_config: FeatureConfig | None = None
    ):
        self.config = config or ModelConfig()
        self.feature_config = feature_config or FeatureConfig()

    # ----------------------------------------------------------------- fitting
    def _estimators(self) -> dict[str, Any]:
        from lightgbm import LGBMClassifier
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.tree import DecisionTreeClassifier

        c = self.config
        return {
            "lightgbm": LGBMClassifier(
                n_estimators=c.lgbm_n_estimators,
                learning_rate=c.lgbm_learning_rate,
                num_leaves=c.lgbm_num_leaves,
                min_child_samples=c.lgbm_min_child_samples,
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                random_state=c.seed,
                n_jobs=2,
                verbose=-1,
            ),
            "random_forest": RandomForestClassifier(
                n_estimators=c.forest_trees,
                min_samples_leaf=2,
                class_weight="balanced_subsample",
                random_state=c.seed,
                n_jobs=2,
            ),
            "decision_tree": DecisionTreeClassifier(
                max_depth=c.tree_depth, min_samples_leaf=5, random_state=c.seed
            ),
        }

    def _with_peer(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = (values - self.scale_mean_) / self.scale_std_
        group = self.kmeans_.predict(z)
        distance = np.linalg.norm(z - self.kmeans_.cluster_centers_[group], axis=1)
        return np.column_stack([values, distance]), group

    @staticmethod
    def _neighbour_scores(network: Any, first: np.ndarray) -> np.ndarray:
        """Per account, over its counterparties (in or out): the mean and the largest
        first-stage score, and the largest among the counterparties it shares a further
        counterparty with (edges i–j of the undirected network closed by some i–k–j)."""
        if network is None:
            return np.zeros((first.size, 3))
        both = ((network + network.T) > 0).astype(float).tocsr()
        both.setdiag(0)  # a payment to oneself is no counterparty
        both.eliminate_zeros()
        deg = np.asarray(both.sum(axis=1)).ravel()
        mean = np.divide(both @ first, deg, out=np.zeros_like(first), where=deg > 0)
        closed = both.multiply(both @ both).tocsr()  # edge i–j times its common neighbours
        closed.eliminate_zeros()
        return np.column_stack([mean, row_max(both, first), row_max(closed, first)])

    def first_stage(self, features: AccountFeatures, X: np.ndarray) -> np.ndarray:
        """First-stage scores: an account labelled at fit, seen again with the very
        features it had then (the same bank and period scored), keeps its out-of-fold
        score; every other account — new, or the same account in other data — gets the
        mean of the first stage's fold models."""
        first = self.first_stage_.predict_proba(X)[:, 1]
        for i, account in enumerate(features.accounts):
            stored = self.stage1_out_of_fold_.get(account)
            if stored is not None and stored[0] == _row_digest(X[i]):
                first[i] = stored[1]
        return first

    def design(self, features: AccountFeatures) -> tuple[np.ndarray, np.ndarray]:
        """The final models' inputs: features, peer distance, neighbour scores."""
        X, group = self._with_peer(features.values)
        first = self.first_stage(features, X)
        return np.column_stack([X, self._neighbour_scores(features.network, first)]), group

    @staticmethod
    def _fold_fit(
        estimator: Any, X: np.ndarray, y: np.ndarray, folds: Any
    ) -> tuple[FoldMean, np.ndarray]:
        """The k fold models of ``estimator`` and its out-of-fold scores on ``X``."""
        from sklearn.base import clone

        oof = np.zeros(y.size)
        fold_models = []
        for part, rest in folds.split(X, y):
            fold_models.append(clone(estimator).fit(X[part], y[part]))
            oof[rest] = fold_models[-1].predict_proba(X[rest])[:, 1]
        return FoldMean(fold_models), oof

    def fit(self, features: AccountFeatures, labels: np.ndarray) -> AmlModel:
        """Fit on the accounts of ``features`` with ``labels`` (bool, same order; accounts
        without a label are marked by :data:`numpy.nan` in a float array and left out)."""
        from sklearn.cluster import KMeans
        from sklearn.model_selection import StratifiedKFold

        y_all = np.asarray(labels, dtype=float)
        if y_all.shape != (features.values.shape[0],):
            raise InputError(
                "labels", y_all.shape, f"one label per account ({features.values.shape[0]})"
            )
        known = ~np.isnan(y_all)
        y = y_all[known].astype(bool)
        positives = int(y.sum())
        if positives < self.config.cv_folds or (~y).sum() < self.config.cv_folds:
            raise InputError(
                "is_suspicious",
                f"{positives} suspicious of {y.size} labelled accounts",
                f"at least {self.config.cv_folds} suspicious and {self.config.cv_folds} "
                "ordinary accounts among those in the transactions",
            )
        values = features.values
        self.feature_names_ = [*features.names, *DESIGN_EXTRAS]
        self.scale_mean_ = values.mean(axis=0)
        self.scale_std_ = np.where(values.std(axis=0) > 0, values.std(axis=0), 1.0)
        self.kmeans_ = KMeans(
            n_clusters=self.config.n_peer_groups, n_init=4, random_state=self.config.seed
        ).fit((values - self.scale_mean_) / self.scale_std_)
        X0, _ = self._with_peer(values)
        folds = StratifiedKFold(self.config.cv_folds, shuffle=True, random_state=self.config.seed)
        self.first_stage_, stage1_oof = self._fold_fit(
            self._estimators()[CHAMPION], X0[known], y, folds
        )
        self.stage1_out_of_fold_ = {
            account: (_row_digest(row), float(score))
            for account, row, score in zip(
                features.accounts[known], X0[known], stage1_oof, strict=True
            )
        }
        X = self.design(features)[0][known]
        self.models_: dict[str, Any] = {}
        self.thresholds_: dict[str, float] = {}
        self.threshold_rule_: dict[str, str] = {}
        self.oof_scores_: dict[str, np.ndarray] = {}
        for name, estimator in self._estimators().items():
            self.models_[name], oof = self._fold_fit(estimator, X, y, folds)
            self.oof_scores_[name] = oof
            if self.config.threshold_rule == "both_floors":
                thr, rule = threshold_for_targets(
                    y, oof, self.config.target_precision, self.config.target_recall
                )
            else:
                thr, rule = threshold_at_precision(y, oof, self.config.target_precision)
            self.thresholds_[name] = thr
            self.threshold_rule_[name] = rule
        self.oof_labels_ = y
        self.segment_thresholds_: dict[str, float] = {}
        self.metrics_ = {
            name: _metrics(y, self.oof_scores_[name], self.thresholds_[name])
            for name in self.models_
        }
        self.fitted_at_ = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.n_train_ = int(y.size)
        return self

    # ----------------------------------------------------------------- scoring
    def _check(self, features: AccountFeatures) -> None:
        extras = len(DESIGN_EXTRAS)
        if tuple(self.feature_names_[-extras:]) != DESIGN_EXTRAS:
            raise InputError(
                "--model",
                f"a model with design columns {self.feature_names_[-extras:]}",
                f"a model fitted by AML model {MODEL_VERSION} (refit it with 'aml fit')",
            )
        expected = self.feature_names_[:-extras]
        if list(features.names) != expected:
            raise InputError("features", list(features.names), f"the fitted features {expected}")

    def score(self, features: AccountFeatures, model: str = CHAMPION) -> Scores:
        """Scores and alerts of every account of ``features`` (``model`` alerts)."""
        self._check(features)
        X, group = self.design(features)
        by_model = {name: m.predict_proba(X)[:, 1] for name, m in self.models_.items()}
        segment = np.where(
            features.segment == "unknown", np.char.add("peer_", group.astype(str)), features.segment
        )
        thr = (
            np.array([self.segment_thresholds_.get(s, self.thresholds_[model]) for s in segment])
            if self.segment_thresholds_
            else np.full(len(segment), self.thresholds_[model])
        )
        score = by_model[model]
        return Scores(features.accounts, score, score >= thr, thr, segment, group, by_model)

    def explain(
        self, features: AccountFeatures, rows: np.ndarray, top: int = 5
    ) -> list[dict[str, Any]]:
        """The ``top`` SHAP contributions (log-odds) of the champion for each of ``rows``:
        the mean over its fold models of their TreeSHAP values (they sum to the mean of the
        fold models' log-odds less its expected value)."""
        import shap

        if len(rows) == 0:
            return []
        X = self.design(features)[0][rows]
        contrib = np.zeros_like(X, dtype=float)
        for member in self.models_[CHAMPION].models:
            c = np.asarray(shap.TreeExplainer(member).shap_values(X))
            if c.ndim == 3:  # some shap versions return one array per class
                c = c[..., 1] if c.shape[-1] == 2 else c[1]
            contrib += c / len(self.models_[CHAMPION].models)
        out = []
        for k, row in enumerate(rows):
            order = np.argsort(-np.abs(contrib[k]))[:top]
            for rank, j in enumerate(order, start=1):
                out.append(
                    {
                        "account": features.accounts[row],
                        "rank": rank,
                        "feature": self.feature_names_[j],
                        "value": float(X[k, j]),
                        "contribution": float(contrib[k, j]),
                    }
                )
        return out

    # ----------------------------------------------------------------- persistence
    def card(self) -> dict[str, Any]:
        return {
            "version": MODEL_VERSION,
            "fitted_at": self.fitted_at_,
            "champion": CHAMPION,
            "families": list(self.models_),
            "features": self.feature_names_,
            "thresholds": self.thresholds_,
            "threshold_rule": self.threshold_rule_,
            "segment_thresholds": self.segment_thresholds_,
            "target_precision": self.config.target_precision,
            "target_recall": self.config.target_recall,
            "threshold_rule_setting": self.config.threshold_rule,
            "n_train_accounts": self.n_train_,
            "n_train_suspicious": int(self.oof_labels_.sum()),
            "oof_metrics": self.metrics_,
            "config": asdict(self.config),
            "feature_config": asdict(self.feature_config),
        }

    def save(self, folder: Path | str) -> Path:
        import joblib

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, folder / "model.joblib")
        (folder / "model.json").write_text(json.dumps(self.card(), indent=2, default=float))
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> AmlModel:
        import joblib

        path = Path(folder) / "model.joblib"
        if not path.is_file():
            raise InputError("--model", str(folder), "a folder written by 'surveillance aml fit'")
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise InputError("--model", str(folder), "an AML model folder")
        return model


def _row_digest(row: np.ndarray) -> bytes:
    """A 16-byte fingerprint of one account's feature row (float64 bytes)."""
    import hashlib

    return hashlib.blake2b(
        np.ascontiguousarray(row, dtype=np.float64).tobytes(), digest_size=16
    ).digest()


def _metrics(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    thr = np.asarray(threshold, dtype=float)  # one threshold, or one per account
    alert = score >= thr
    tp = int((alert & y).sum())
    precision = tp / alert.sum() if alert.sum() else 0.0
    recall = tp / y.sum() if y.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": float(thr) if thr.ndim == 0 else float(np.median(thr)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "pr_auc": float(average_precision_score(y, score)),
        "roc_auc": float(roc_auc_score(y, score)),
        "alerts": int(alert.sum()),
    }


def evaluate(y: np.ndarray, score: np.ndarray, threshold: float | np.ndarray) -> dict[str, float]:
    """Precision, recall, F1, PR/ROC AUC and the alert count at ``threshold``."""
    y = np.asarray(y, bool)
    return _metrics(y, np.asarray(score, float), threshold)  # type: ignore[arg-type]
