"""The engine's inbox (``RiskEngine.send``): other stages change what the engine values
only by messages, applied at the top of the next refresh on the engine's own thread."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.core.messages import PositionsChanged, RegimeChanged
from riskstream.risk.config import RiskConfig
from tests.risk.helpers import make_engine


def _positions_message(engine, version: int, scale: float) -> PositionsChanged:
    books = {  # the books table as columns
        "book_id": np.array([0, 1]),
        "desk": np.array(["d0", "d1"]),
        "strategy": np.array(["s", "s"]),
        "trader": np.array(["t", "t"]),
    }
    return PositionsChanged(
        version=version,
        ts_ns=0,
        book_id=np.asarray(engine.pos_book),
        instrument_id=np.asarray(engine.pos_inst),
        quantity=np.asarray(engine.pos_qty) * scale,
        books=books,
        cause="request",
    )


def test_a_positions_message_is_applied_at_the_next_refresh_and_old_versions_ignored() -> None:
    engine = make_engine(config=RiskConfig(n_scenarios=500, horizons_days=(1,)))
    before = engine.refresh().headline.var
    engine.send(_positions_message(engine, version=2, scale=2.0))
    assert engine.positions_version == 0  # nothing changes until the engine refreshes
    snap = engine.refresh()
    assert engine.positions_version == 2 and snap.valuation.positions_version == 2
    # VaR is positively homogeneous in the positions (Artzner et al. 1999, coherence)
    assert snap.headline.var == pytest.approx(2.0 * before, rel=1e-9)
    engine.send(_positions_message(engine, version=1, scale=10.0))  # stale: ignored
    assert engine.refresh().headline.var == pytest.approx(2.0 * before, rel=1e-9)


def test_a_regime_message_conditions_the_scenarios_and_identity_restores_them() -> None:
    engine = make_engine(
        config=RiskConfig(n_scenarios=500, horizons_days=(1,), regime_conditional=True)
    )
    base = engine.refresh().headline.var
    engine.send(RegimeChanged(1, 2, "crisis", (0.0, 0.1, 0.9), 1.8, 1.0))
    snap = engine.refresh()
    assert snap.regime_conditioning["regime"] == "crisis"
    assert snap.headline.var > base
    engine.send(RegimeChanged(2, 0, "calm", (0.9, 0.1, 0.0)))
    assert engine.refresh().headline.var == base


def test_the_engine_refuses_messages_it_does_not_own() -> None:
    engine = make_engine(config=RiskConfig(n_scenarios=200, horizons_days=(1,)))
    with pytest.raises(InputError, match="message"):
        engine.send("set positions please")  # type: ignore[arg-type]


def test_published_fx_rates_translate_currencies_no_live_quote_reaches() -> None:
    """With its FX pair unquoted, a currency keeps the universe's reference rate until
    FxRates come; then every instrument of that currency is translated at the published
    rate: its value in base is linear in its currency's rate (value = q x P x m x FX)."""
    from riskstream.core.messages import FxRates
    from tests.risk.helpers import make_universe, market_from_ref

    universe = make_universe()
    market = market_from_ref(universe)
    pair = (universe.instruments["asset_class"] == "fx").to_numpy()
    market.mid[pair] = market.last[pair] = np.nan  # no live FX quote
    engine = make_engine(universe, RiskConfig(n_scenarios=200, horizons_days=(1,)), market=market)
    before = engine.refresh()
    c = "EUR"
    assert c in before.marks["fx_reference_currencies"]
    old = before.fx_to_base[c]
    ids = np.flatnonzero((np.asarray(engine.currency) == c) & ~pair)
    value_before = before.valuation.unit_value[ids].copy()
    assert np.all(value_before != 0)
    # rates are units of c per one unit of base: the value of c in base is 1 / rate
    engine.send(FxRates(1, engine.base_currency, {c: 1.0 / (1.1 * old)}))
    after = engine.refresh()
    assert after.fx_to_base[c] == pytest.approx(1.1 * old, rel=1e-12)
    np.testing.assert_allclose(after.valuation.unit_value[ids], 1.1 * value_before, rtol=1e-12)
