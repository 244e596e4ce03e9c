"""Batch work on a Dask cluster equals the local run, bit for bit (issue 13, part 8).

One ``distributed.LocalCluster`` of two worker *processes* (one thread each) is started for
the module: the tasks really cross a process boundary (pickled functions, scattered shared
inputs), as on a cluster of machines. Each batch path runs twice, here and on the cluster,
and every figure must be equal — not close: the chunking and the seeds are fixed by the
work, never by where it ran (:mod:`riskstream.cluster`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.backtest.rolling import MODELS, forecast_blocks, walk_forward_models
from riskstream.cli import app
from riskstream.cluster import chunk_seeds, chunks, local_map, task_map
from riskstream.core.errors import InputError


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a LocalCluster of 2 worker processes, started once for the module."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="2GiB",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def stored_book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A small stored reference universe (60 instruments, 200 days of simulated history)
    for the engine's batch commands; the first command stores it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path_factory.mktemp("cluster") / "data"))
    mp.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "60")
    mp.setenv("RISKSTREAM_UNIVERSE__HISTORY_DAYS", "200")
    mp.setenv("RISKSTREAM_RISK__WINDOW_DAYS", "120")
    mp.setenv("RISKSTREAM_RISK__N_SCENARIOS", "500")
    mp.delenv("RISKSTREAM_CONFIG", raising=False)
    yield
    mp.undo()


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _series(n: int = 330, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """GARCH-like returns (volatility clusters) so every model has something to fit."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(6, n) / np.sqrt(1.5)
    r, var = np.empty(n), 1e-4
    for t in range(n):
        r[t] = np.sqrt(var) * z[t]
        var = 1e-6 + 0.08 * r[t] ** 2 + 0.9 * var
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + n)
    return r, dates


def _same_runs(a, b) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.model == y.model
        for field in ("dates", "pnl", "var", "es", "tail_quantiles", "var_99", "var_975"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=field)


WALK = {"window": 250, "refit_every_days": 20, "n_scenarios": 300, "seed": 5}


def test_blocks_start_on_refit_days_and_do_not_change_the_walk() -> None:
    assert forecast_blocks(250, 330, 20, 30) == [(250, 290), (290, 330)]
    assert forecast_blocks(250, 330, 20, 1) == [(250, 270), (270, 290), (290, 310), (310, 330)]
    r, dates = _series()
    # one block is the serial walk of one forecaster; blocks of one refit interval each
    # start a new forecaster (ewma replays its recursion from the first forecast day)
    whole = walk_forward_models(r, dates, MODELS, days_per_task=10_000, **WALK)
    split = walk_forward_models(r, dates, MODELS, days_per_task=1, **WALK)
    _same_runs(whole, split)


def test_backtest_windows_on_the_cluster_equal_the_local_run(scheduler: str) -> None:
    r, dates = _series()
    local = walk_forward_models(r, dates, MODELS, days_per_task=1, task_map=local_map, **WALK)
    with task_map(scheduler) as on_cluster:
        remote = walk_forward_models(r, dates, MODELS, days_per_task=1, task_map=on_cluster, **WALK)
    _same_runs(local, remote)


def test_backtest_var_command_on_the_cluster(scheduler: str, tmp_path: Path) -> None:
    r, dates = _series()
    path = tmp_path / "returns.csv"
    pl.DataFrame({"date": dates, "return": r}).write_csv(path)
    args = ["backtest", "var", "--data", str(path), "--models", "hs,fhs", "--window", "250"]
    args += ["--refit-every", "20", "--scenarios", "300", "--es-simulations", "200", "--json"]
    local = run(*args)
    remote = run(*args, "--cluster", scheduler)
    for out in (local, remote):  # timings aside
        out.pop("seconds")
        for block in out["models"].values():
            block.pop("seconds")
    assert remote == local


def test_backtest_book_on_the_cluster(
    scheduler: str, stored_book: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import riskstream.cli.backtest as cli_backtest

    monkeypatch.setattr(cli_backtest, "BOOK_DAYS_PER_TASK", 2)  # 4 days: 2 tasks
    args = ["backtest", "book", "--window", "100", "--days", "4", "--method", "historical"]
    local = run(*args, "--json")
    remote = run(*args, "--json", "--cluster", scheduler)
    for out in (local, remote):  # timings aside
        out.pop("seconds")
        out["validation"].pop("seconds")
    assert len(local["daily"]) == 4
    assert remote == local


def test_chunked_monte_carlo_on_the_cluster(scheduler: str, stored_book: None) -> None:
    args = ["risk", "--method", "mc", "--scenarios", "1000", "--chunk-scenarios", "400"]
    local = run(*args, "--by", "desk", "--json")
    remote = run(*args, "--by", "desk", "--json", "--cluster", scheduler)
    assert local.pop("cluster") is None and remote.pop("cluster") == scheduler
    assert remote == local
    assert local["chunks"] == 3 and local["n_scenarios"] == 1000  # 400, 400, 200
    m = local["measures"][0]
    assert 0 < m["var"] <= m["es"]
    # Euler contributions add up to the whole: ES exactly (the tail mean), VaR by the
    # kernel's rescaling (riskstream.risk.euler)
    desks = local["by"]["desk"].values()
    assert sum(d["component_es"] for d in desks) == pytest.approx(m["es"], rel=1e-9)
    assert sum(d["component_var"] for d in desks) == pytest.approx(m["var"], rel=1e-9)


def test_chunked_risk_refuses_what_it_cannot_chunk(stored_book: None) -> None:
    result = CliRunner().invoke(
        app, ["risk", "--method", "historical", "--chunk-scenarios", "200", "--json"]
    )
    assert isinstance(result.exception, InputError) and result.exception.field == "--method"
    result = CliRunner().invoke(app, ["risk", "--method", "mc", "--chunk-scenarios", "50"])
    assert isinstance(result.exception, InputError)
    assert result.exception.field == "--chunk-scenarios" and result.exception.value == 50


def test_chunks_and_seeds_are_fixed_by_the_work() -> None:
    assert chunks(1000, 400) == [(0, 400), (400, 800), (800, 1000)]
    # chunk k's seed is the k-th SeedSequence child: the same however many chunks follow
    assert chunk_seeds(7, 3) == chunk_seeds(7, 5)[:3]
    assert len(set(chunk_seeds(7, 100))) == 100
    with pytest.raises(InputError):
        chunks(10, 0)


@pytest.mark.parametrize(
    "address", ["localhost:8786", "http://localhost:8786", "tcp://localhost", "tcp://h:70000"]
)
def test_a_bad_cluster_address_names_the_option(address: str) -> None:
    result = CliRunner().invoke(app, ["backtest", "var", "--cluster", address, "--json"])
    error = result.exception
    assert isinstance(error, InputError)
    assert error.field == "--cluster" and error.value == address
    assert "tcp://HOST:PORT" in error.expected


def test_no_scheduler_at_the_address_is_an_input_error() -> None:
    with pytest.raises(InputError) as info, task_map("tcp://127.0.0.1:9", timeout_s=1):
        pass
    assert info.value.field == "--cluster" and info.value.value == "tcp://127.0.0.1:9"
    assert "running Dask scheduler" in info.value.expected
