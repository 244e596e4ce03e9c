"""Scoring the market-abuse detectors against ground truth, per participant-day and typology.

The unit is the **participant-day**: a (participant, day, typology) is *alerted* when the
detectors raised at least one alert of that typology on that participant that day, and
*true* when the ground truth (:data:`~riskstream.core.audit.DAY_LABEL_DTYPE`) holds an
injected episode of it. Per typology:

* recall = alerted and true / true (the share of manipulating participant-days caught);
* precision = alerted and true / alerted;
* alert rate = alerted participant-days / participant-days observed (the analysts' load).

An alert of the wrong typology (a layering episode raised as spoofing) counts as a false
alert of the one and a miss of the other; ``confusion`` shows where they went.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from riskstream.core.audit import TYPOLOGY_NAMES


def score_alerts(
    alerts: np.ndarray, day_labels: np.ndarray, participant_days: int
) -> dict[str, Any]:
    """Recall, precision and alert rate per typology (see the module docstring).

    Parameters
    ----------
    alerts : ndarray of ALERT_DTYPE
    day_labels : ndarray of DAY_LABEL_DTYPE
    participant_days : int
        Participant-days observed (the alert rate's denominator).
    """
    alerted = {(int(a["participant_id"]), int(a["day"]), int(a["typology"])) for a in alerts}
    truth = {(int(r["participant_id"]), int(r["day"]), int(r["typology"])) for r in day_labels}
    out: dict[str, Any] = {}
    for code, name in TYPOLOGY_NAMES.items():
        a = {k for k in alerted if k[2] == code}
        t = {k for k in truth if k[2] == code}
        hit = len(a & t)
        out[name] = {
            "true": len(t),
            "alerted": len(a),
            "caught": hit,
            "recall": hit / len(t) if t else None,
            "precision": hit / len(a) if a else None,
            "alert_rate": len(a) / participant_days if participant_days else None,
        }
    confusion: dict[str, dict[str, int]] = {}
    for p, d, code in truth:
        row = confusion.setdefault(TYPOLOGY_NAMES[code], {})
        raised = [TYPOLOGY_NAMES[k[2]] for k in alerted if k[0] == p and k[1] == d]
        for name in raised or ["missed"]:
            row[name] = row.get(name, 0) + 1
    out["confusion"] = confusion
    return out
