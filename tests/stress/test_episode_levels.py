"""The historical episodes' S&P 500 levels equal the closes arch.data ships (Yahoo Finance's
^GSPC, 1999-2018): the scenario file is checked against real data where a package has it."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import pytest
import yaml
from arch.data import sp500

EPISODES = yaml.safe_load(
    resources.files("riskstream.stress").joinpath("data/historical.yaml").read_text()
)["episodes"]
CLOSES = sp500.load()["Close"]


@pytest.mark.parametrize(
    "name",
    [n for n, e in EPISODES.items() if dt.date(1999, 1, 4) <= e["start"] <= dt.date(2018, 12, 31)],
)
def test_spx_levels_match_the_published_closes(name: str) -> None:
    episode = EPISODES[name]
    start, end = episode["equity"]["SPX"]
    assert CLOSES.loc[str(episode["start"])] == pytest.approx(start, abs=0.005)
    assert CLOSES.loc[str(episode["end"])] == pytest.approx(end, abs=0.005)
