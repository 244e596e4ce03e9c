"""The FX rate routes read the history store's ``fx_rates`` table: the latest publication
with each rate's provenance, and one rate's history."""

from __future__ import annotations

from pathlib import Path

from riskstream.core.clock import NS_PER_S
from riskstream.feeds.fx import FxConfig, aggregate, load_set
from riskstream.service import fx
from riskstream.store.market_history import MarketHistory
from tests.feeds.fx_server import FIXTURES
from tests.service.conftest import auth

T0 = 1_719_619_500 * NS_PER_S


def test_latest_rates_carry_their_provenance(app, client, keys, tmp_path: Path) -> None:
    history = MarketHistory(tmp_path / "history")
    fx.attach(app, history)
    assert client.get("/api/v1/fx/rates", headers=auth(keys, "viewer")).status_code == 404
    quotes, failures = load_set(FIXTURES)
    result = aggregate(quotes, FxConfig(), failures=failures)
    history.append_fx_rates(result.rows(T0, str(FIXTURES)), T0)
    down = {q.source: "no response (test)" for q in quotes[2:]}
    newer = aggregate(quotes[:2], FxConfig(), failures=down)  # the ECB pair only
    history.append_fx_rates(newer.rows(T0 + 300 * NS_PER_S, "set-2"), T0)

    assert client.get("/api/v1/fx/rates").status_code == 401
    response = client.get("/api/v1/fx/rates", headers=auth(keys, "viewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["base"] == "USD" and body["responses"] == "set-2"
    assert body["published"] == "2024-06-29T00:10:00+00:00"
    jpy = next(r for r in body["rates"] if r["currency"] == "JPY")
    assert jpy["rate"] == newer.rates["JPY"]
    assert set(jpy["sources"]) == {"ecb", "frankfurter"}
    assert {e["source"] for e in jpy["excluded"]} == {
        "open-er-api", "exchangerate-host", "currency-api"
    }  # fmt: skip

    series = client.get("/api/v1/fx/rates/JPY", headers=auth(keys, "viewer")).json()
    assert [p["rate"] for p in series] == [result.rates["JPY"], newer.rates["JPY"]]
    assert [p["sources"] for p in series] == [5, 2]
    bad = client.get("/api/v1/fx/rates?base=usd", headers=auth(keys, "viewer"))
    assert bad.status_code == 422 and "base" in bad.text


def test_without_a_store_the_routes_say_so(app, client, keys) -> None:
    app.state.fx_history = None
    app.include_router(fx.router, prefix="/api/v1")
    response = client.get("/api/v1/fx/rates", headers=auth(keys, "viewer"))
    assert response.status_code == 503 and "not configured" in response.text
