"""Benchmark: scoring 1M transactions with the AML model (target < 60 s).

Generates a training set (4,000 accounts) and a scoring set of about one million
transactions (13,000 accounts, 90 days) with the labelled generator, writes the scoring
set as CSV, fits the default :class:`AmlModel` on the training set (not timed), then times
the path ``riskstream surveillance aml score`` runs: load and validate the CSV, build the
account features (rolling windows, networkx PageRank, sparse cycle counts), score with the
champion and both challengers, SHAP-explain every alert and write both CSVs. Prints one
JSON object as its last line: seconds per stage and in all, transactions and accounts
scored, and the held-out precision/recall at the tuned threshold (the scoring set is a
different seed from the training set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from riskstream.surveillance.aml_data import load_accounts, load_transactions
from riskstream.surveillance.aml_features import build_features
from riskstream.surveillance.aml_generator import GeneratorConfig, generate
from riskstream.surveillance.aml_model import THRESHOLD_RULES, AmlModel, ModelConfig, evaluate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--threshold-rule",
        default="both_floors",
        choices=THRESHOLD_RULES,
        help="The alert-threshold rule of the fit (aml fit --threshold-rule).",
    )
    args = parser.parse_args()
    train = generate(GeneratorConfig(n_accounts=4000, seed=1))
    score_set = generate(GeneratorConfig(n_accounts=13_000, seed=2))
    folder = Path(tempfile.mkdtemp(prefix="aml_bench_"))
    paths = score_set.write(folder)
    f_train = build_features(train.transactions, train.accounts)
    lookup = dict(zip(train.labels["account"], train.labels["is_suspicious"], strict=True))
    y_train = np.array([float(lookup[a]) for a in f_train.accounts])
    model = AmlModel(ModelConfig(threshold_rule=args.threshold_rule)).fit(f_train, y_train)

    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = load_transactions(paths["transactions"])
    accounts = load_accounts(paths["accounts"])
    stages["load_csv_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    features = build_features(loaded.frame, accounts.frame)
    stages["features_s"] = time.perf_counter() - t
    t = time.perf_counter()
    scores = model.score(features)
    stages["score_s"] = time.perf_counter() - t
    t = time.perf_counter()
    explained = model.explain(features, np.flatnonzero(scores.alert))
    pl.DataFrame(
        {"account": scores.accounts.tolist(), "score": scores.score, "alert": scores.alert}
    ).write_csv(folder / "scores.csv")
    pl.DataFrame(explained).write_csv(folder / "scores.explanations.csv")
    stages["explain_write_s"] = time.perf_counter() - t
    total = time.perf_counter() - t0

    truth = dict(zip(score_set.labels["account"], score_set.labels["is_suspicious"], strict=True))
    y = np.array([bool(truth.get(a, False)) for a in scores.accounts])
    held = evaluate(y, scores.score, scores.threshold)
    print(
        f"scored {loaded.frame.height:,} transactions, {scores.score.size:,} accounts "
        f"in {total:.1f} s; held-out precision {held['precision']:.3f} recall "
        f"{held['recall']:.3f}"
    )
    print(
        json.dumps(
            {
                "benchmark": "aml_score",
                "transactions": loaded.frame.height,
                "accounts": int(scores.score.size),
                "alerts": int(scores.alert.sum()),
                **{k: round(v, 3) for k, v in stages.items()},
                "total_s": round(total, 3),
                "target_s": 60.0,
                "met": total < 60.0,
                "heldout_precision": round(held["precision"], 4),
                "heldout_recall": round(held["recall"], 4),
                "threshold_rule": args.threshold_rule,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            }
        )
    )


if __name__ == "__main__":
    main()
