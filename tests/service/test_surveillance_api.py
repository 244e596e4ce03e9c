"""The compliance role and the model-inventory routes: compliance sees surveillance but
cannot change limits; viewers and analysts see no surveillance; the approval workflow is
role-checked and audited."""

from __future__ import annotations

from riskstream.store.audit import read_audit
from tests.service.conftest import auth


def test_compliance_sees_models_but_cannot_change_limits(client, keys) -> None:
    r = client.get("/api/v1/models", headers=auth(keys, "compliance"))
    assert r.status_code == 200
    ids = {m["model_id"] for m in r.json()}
    assert {"aml_lightgbm", "garch", "regime_hmm", "var_historical"} <= ids
    for role in ("viewer", "analyst"):
        assert client.get("/api/v1/models", headers=auth(keys, role)).status_code == 403
    r = client.put(
        "/api/v1/limits/desk/macro/var",
        json={"hard": 5, "reason": "x"},
        headers=auth(keys, "compliance"),
    )
    assert r.status_code == 403
    assert client.get("/api/v1/risk", headers=auth(keys, "compliance")).status_code != 403


def test_workflow_through_the_api_is_role_checked_and_audited(client, keys, db) -> None:
    h_comp, h_rm = auth(keys, "compliance"), auth(keys, "risk_manager")
    findings = client.get("/api/v1/models/review", headers=h_comp).json()
    assert any(f["model_id"] == "aml_lightgbm" and f["check"] == "metric_missing" for f in findings)
    r = client.post(
        "/api/v1/models/aml_lightgbm/validate",
        json={"evidence": "tuning.html", "metrics": {"recall": 0.9, "precision": 0.7}},
        headers=h_comp,
    )
    assert r.status_code == 200 and r.json()["state"] == "validated"
    # compliance may not approve; the risk manager (not the validator) may
    r = client.post("/api/v1/models/aml_lightgbm/state", json={"state": "approved"}, headers=h_comp)
    assert r.status_code in (400, 422) and "risk_manager" in r.text
    r = client.post("/api/v1/models/aml_lightgbm/state", json={"state": "approved"}, headers=h_rm)
    assert r.status_code == 200 and r.json()["state"] == "approved"
    card = client.get("/api/v1/models/aml_lightgbm", headers=h_comp).json()["card"]
    assert card["validation"]["status"] == "passed"
    actions = [e.action for e in read_audit(db) if e.target == "model:aml_lightgbm"]
    assert actions == ["model.register", "model.validated", "model.approved"]


def test_abuse_alerts_route_is_compliance_only_with_evidence(app, client, keys) -> None:
    """Alerts the surveillance stage published reach the route, newest first, with the
    book levels as lists (None where the book had no level, never a bare NaN)."""
    import numpy as np

    from riskstream.core.audit import Typology
    from riskstream.surveillance.market_abuse import ALERT_DTYPE, alerts_frame

    alerts = np.zeros(2, ALERT_DTYPE)
    alerts["typology"] = [Typology.SPOOFING, Typology.WASH_TRADE]
    alerts["participant_id"] = [48, 52]
    alerts["n_orders"] = [1, 3]
    alerts["order_ids"][0, 0] = 500
    alerts["order_ids"][1, :3] = [7, 8, 9]
    alerts["bid_px"] = np.nan
    alerts["bid_px"][0, 0] = 100.0
    app.state.ctx.feed.push_abuse(alerts_frame(alerts).to_dicts())
    r = client.get("/api/v1/surveillance/abuse/alerts", headers=auth(keys, "compliance"))
    assert r.status_code == 200
    rows = r.json()
    assert [x["typology"] for x in rows] == ["wash_trade", "spoofing"]
    assert rows[0]["order_ids"] == "7 8 9" and rows[1]["bid_px"][:2] == [100.0, None]
    r = client.get(
        "/api/v1/surveillance/abuse/alerts?typology=spoofing", headers=auth(keys, "compliance")
    )
    assert [x["participant_id"] for x in r.json()] == [48]
    bad = client.get("/api/v1/surveillance/abuse/alerts?typology=x", headers=auth(keys, "admin"))
    assert bad.status_code == 422 and "spoofing" in bad.text
    for role in ("viewer", "analyst"):
        r = client.get("/api/v1/surveillance/abuse/alerts", headers=auth(keys, role))
        assert r.status_code == 403


def test_alerts_published_on_the_bus_reach_the_route(app, client, keys) -> None:
    """The service node forwards the surveillance stage's AbuseAlerts to the route."""
    import numpy as np

    from riskstream.bus.topics import MemoryTopics
    from riskstream.core.audit import Typology
    from riskstream.core.messages import SUBJECTS, AbuseAlerts
    from riskstream.runtime.readers import ServiceNode
    from riskstream.surveillance.market_abuse import ALERT_DTYPE

    topics = MemoryTopics()
    node = ServiceNode(app.state.ctx.feed, topics, 4, abuse_alerts_kept=2)
    alerts = np.zeros(3, ALERT_DTYPE)
    alerts["typology"] = Typology.MOMENTUM_IGNITION
    alerts["participant_id"] = [1, 2, 3]
    topics.publish(SUBJECTS["abuse"], AbuseAlerts(ts_ns=1, alerts=alerts))
    node.step()
    node.close()
    rows = client.get("/api/v1/surveillance/abuse/alerts", headers=auth(keys, "compliance")).json()
    # the newest two kept (abuse_alerts_kept), newest first
    assert [(r["typology"], r["participant_id"]) for r in rows] == [
        ("momentum_ignition", 3), ("momentum_ignition", 2)
    ]  # fmt: skip
