"""A labelled AML data generator: ordinary behaviour per segment plus injected typologies.

The generator writes the documented file formats (:mod:`~riskstream.surveillance.aml_data`)
so what it makes travels the same path as a user's files. Ordinary behaviour per segment:

- **retail**: card payments to merchants, person-to-person transfers (often round amounts),
  cash withdrawals and occasional deposits, payroll credited twice a month;
- **business**: wires to suppliers, payroll transfers, daily cash takings (some legitimately
  just under the reporting threshold); a few are *payment processors* that receive many
  transfers and pay them out the next day — legitimate fan-in and pass-through, the hard
  negatives every real monitoring system meets;
- **correspondent**: large cross-border wires, some with banks in high-risk countries.

Injected typologies (FATF, "Money Laundering Using New Payment Methods", 2010, and the
FinCEN/FFIEC BSA/AML Examination Manual's red flags); every account the launderer controls
is labelled suspicious (the ground truth), with the typology:

- **fan_in** (mule collection): 5–20 mules transfer to one collector, who wires most of it
  on within days;
- **fan_out**: one account receives a large wire and disperses it to 5–20 accounts, which
  withdraw cash;
- **cycle**: money goes round 3–6 accounts and back to its origin, a few percent shaved off
  at each hop;
- **scatter_gather**: one source → 3–8 intermediaries → one sink within a week;
- **structuring**: repeated cash deposits in [0.9 T, T) under the reporting threshold T
  (US currency transaction report, 31 CFR 1010.311: T = 10,000 USD);
- **pass_through** (rapid movement): large inflows paid out ≥ 90 % within 24 hours;
- **high_risk_jurisdiction**: repeated round-amount wires with accounts in high-risk
  countries (FATF "call for action" list).

Scales vary by orders of magnitude between instances, and ids are drawn at random, so a
model cannot learn the generator's exact amounts or id formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from riskstream.surveillance.aml_data import CHANNELS

HIGH_RISK_COUNTRIES = ("KP", "IR", "MM")
"""FATF "High-risk jurisdictions subject to a call for action" (the black list)."""
OTHER_COUNTRIES = ("GB", "DE", "FR", "CH", "SG", "HK", "AE", "PA", "CY", "MT")
TYPOLOGIES = (
    "fan_in",
    "fan_out",
    "cycle",
    "scatter_gather",
    "structuring",
    "pass_through",
    "high_risk_jurisdiction",
)
_CH = {name: i for i, name in enumerate(CHANNELS)}
DAY_S = 86_400


@dataclass(frozen=True)
class GeneratorConfig:
    """Size and mix of a generated data set.

    ``typology_instances`` is per typology; ``reporting_threshold`` is T of the structuring
    typology (in ``currency``).
    """

    n_accounts: int = 4000
    days: int = 90
    start: str = "2026-01-01"
    seed: int = 7
    segment_mix: tuple[float, float, float] = (0.85, 0.13, 0.02)
    typology_instances: int | None = None
    """Instances per typology; default one per 330 accounts (about 3 % of accounts
    suspicious in all)."""
    reporting_threshold: float = 10_000.0
    currency: str = "USD"
    typologies: tuple[str, ...] = field(default=TYPOLOGIES)


@dataclass(frozen=True)
class GeneratedData:
    """Transactions, accounts and labels in the documented formats (polars frames)."""

    transactions: pl.DataFrame
    accounts: pl.DataFrame
    labels: pl.DataFrame

    def write(self, folder: Path | str) -> dict[str, Path]:
        """Write ``transactions.csv``, ``accounts.csv`` and ``labels.csv`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {name: folder / f"{name}.csv" for name in ("transactions", "accounts", "labels")}
        tx = self.transactions.with_columns(
            pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S"),
            pl.col("amount").round(2),
        )
        tx.write_csv(paths["transactions"])
        self.accounts.write_csv(paths["accounts"])
        self.labels.with_columns(pl.col("is_suspicious").cast(pl.Int8)).write_csv(paths["labels"])
        return paths


class _Tx:
    """Columns of generated transactions, appended in blocks (numpy arrays)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, src, dst, amount, channel, t_s) -> None:
        n = np.size(amount)
        self.parts.append(
            (
                np.broadcast_to(np.asarray(src, np.int64), n),
                np.broadcast_to(np.asarray(dst, np.int64), n),
                np.broadcast_to(np.asarray(amount, np.float64), n),
                np.broadcast_to(np.asarray(channel, np.int8), n),
                np.broadcast_to(np.asarray(t_s, np.int64), n),
            )
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(5))


def _round_some(rng: np.random.Generator, amount: np.ndarray, share: float, unit: float):
    rounded = np.maximum(unit, np.round(amount / unit) * unit)
    return np.where(rng.random(amount.size) < share, rounded, amount)


def _times(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    """Seconds since the start: the day plus a time of day between 07:00 and 22:00."""
    return np.asarray(day, dtype=np.int64) * DAY_S + rng.integers(7 * 3600, 22 * 3600, np.size(day))


def generate(config: GeneratorConfig | None = None) -> GeneratedData:
    """Generate transactions, accounts and ground-truth labels (deterministic per seed)."""
    cfg = config or GeneratorConfig()
    rng = np.random.default_rng(cfg.seed)
    n, days = cfg.n_accounts, cfg.days
    segment = rng.choice(3, size=n, p=np.asarray(cfg.segment_mix) / sum(cfg.segment_mix))
    retail = np.flatnonzero(segment == 0)
    business = np.flatnonzero(segment == 1)
    corresp = np.flatnonzero(segment == 2)
    if min(retail.size, business.size, corresp.size) < 2:
        raise ValueError("n_accounts too small for the segment mix")
    country = np.full(n, "US", dtype=object)
    foreign = rng.random(n) < np.where(segment == 2, 0.9, 0.03)
    country[foreign] = rng.choice(OTHER_COUNTRIES, foreign.sum())
    risky_corr = corresp[rng.random(corresp.size) < 0.25]
    country[risky_corr] = rng.choice(HIGH_RISK_COUNTRIES, risky_corr.size)
    tx = _Tx()
    T = cfg.reporting_threshold

    # --- retail: card spend at merchants, P2P transfers, cash
    def poisson_events(accounts: np.ndarray, rate_per_day: float) -> tuple[np.ndarray, ...]:
        counts = rng.poisson(rate_per_day * days, accounts.size)
        who = np.repeat(accounts, counts)
        return who, rng.integers(0, days, who.size)

    activity = rng.lognormal(0.0, 0.5, n)  # some customers are busier than others
    who, day = poisson_events(retail, 0.7)
    keep = rng.random(who.size) < np.minimum(1.0, activity[who])
    who, day = who[keep], day[keep]
    merchants = business[rng.zipf(1.6, who.size) % business.size]
    tx.add(who, merchants, rng.lognormal(3.6, 0.9, who.size), _CH["card"], _times(rng, day))
    who, day = poisson_events(retail, 0.08)
    peers = rng.choice(retail, who.size)
    ok = peers != who
    amount = _round_some(rng, rng.lognormal(5.3, 1.0, ok.sum()), 0.4, 50.0)
    tx.add(who[ok], peers[ok], amount, _CH["transfer"], _times(rng, day[ok]))
    who, day = poisson_events(retail, 0.1)
    amount = _round_some(rng, rng.lognormal(5.0, 0.8, who.size), 0.8, 20.0)
    tx.add(who, -1, amount, _CH["cash"], _times(rng, day))  # withdrawals
    who, day = poisson_events(retail, 0.03)
    tx.add(-1, who, rng.lognormal(6.0, 1.1, who.size), _CH["cash"], _times(rng, day))

    # --- business: payroll, supplier wires, cash takings, payment processors
    employer = rng.choice(business, retail.size)
    salary = rng.lognormal(7.9, 0.4, retail.size)
    for pay_day in range(0, days, 15):
        tx.add(
            employer,
            retail,
            salary * rng.normal(1.0, 0.01, retail.size),
            _CH["transfer"],
            _times(rng, np.full(retail.size, pay_day)),
        )
    who, day = poisson_events(business, 0.4)
    supplier = rng.choice(np.concatenate([business, corresp[:1]]), who.size)
    ok = supplier != who
    tx.add(
        who[ok],
        supplier[ok],
        rng.lognormal(8.5, 1.2, ok.sum()),
        _CH["wire"],
        _times(rng, day[ok]),
    )
    cash_biz = business[rng.random(business.size) < 0.3]
    who, day = poisson_events(cash_biz, 0.5)
    takings = rng.lognormal(7.5, 0.8, who.size)
    tx.add(-1, who, np.minimum(takings, T * 3), _CH["cash"], _times(rng, day))
    processors = rng.choice(business, max(1, business.size // 50), replace=False)
    for proc in processors:
        payers = rng.choice(retail, 60, replace=False)
        m = rng.poisson(days * 2)
        d = rng.integers(0, days, m)
        amount = rng.lognormal(5.5, 0.8, m)
        tx.add(rng.choice(payers, m), proc, amount, _CH["transfer"], _times(rng, d))
        for dd in range(days - 1):
            paid = amount[d == dd].sum()
            if paid > 0:
                tx.add(
                    proc,
                    rng.choice(business[business != proc]),
                    paid * 0.97,
                    _CH["wire"],
                    _times(rng, dd + 1),
                )

    # --- correspondents: large cross-border wires
    who, day = poisson_events(corresp, 1.5)
    other = rng.choice(np.concatenate([corresp, business]), who.size)
    ok = other != who
    flip = rng.random(ok.sum()) < 0.5
    src = np.where(flip, who[ok], other[ok])
    dst = np.where(flip, other[ok], who[ok])
    tx.add(src, dst, rng.lognormal(11.5, 1.3, ok.sum()), _CH["wire"], _times(rng, day[ok]))

    # --- typologies
    label = np.zeros(n, dtype=bool)
    typology = np.full(n, "", dtype=object)
    used = np.zeros(n, dtype=bool)
    used[processors] = True

    def recruit(pool: np.ndarray, k: int) -> np.ndarray:
        free = pool[~used[pool]]
        picked = rng.choice(free, k, replace=False)
        used[picked] = True
        return picked

    def mark(accounts: np.ndarray, name: str) -> None:
        label[accounts] = True
        typology[accounts] = name

    def scale() -> float:
        return float(np.exp(rng.uniform(np.log(500.0), np.log(50_000.0))))

    risky = np.flatnonzero(np.isin(country, HIGH_RISK_COUNTRIES))
    foreign_sinks = np.flatnonzero(country != "US")
    for name in cfg.typologies:
        for _ in range(cfg.typology_instances or max(2, n // 330)):
            start = int(rng.integers(0, days - 14))
            if name == "fan_in":
                mules = recruit(retail, int(rng.integers(5, 21)))
                collector = recruit(np.concatenate([retail, business]), 1)[0]
                each = scale() / 5
                total = 0.0
                for mule in mules:
                    k = int(rng.integers(1, 4))
                    amt = each * rng.uniform(0.6, 1.0, k)
                    total += amt.sum()
                    tx.add(
                        -1,
                        mule,
                        amt * 1.02,
                        _CH["cash"],
                        _times(rng, start + rng.integers(0, 2, k)),
                    )
                    tx.add(
                        mule,
                        collector,
                        amt,
                        _CH["transfer"],
                        _times(rng, start + rng.integers(1, 4, k)),
                    )
                out_day = start + 4 + int(rng.integers(0, 3))
                tx.add(
                    collector,
                    rng.choice(foreign_sinks),
                    total * rng.uniform(0.8, 0.95),
                    _CH["wire"],
                    _times(rng, np.array([out_day])),
                )
                mark(np.append(mules, collector), name)
            elif name == "fan_out":
                source = recruit(business, 1)[0]
                dests = recruit(retail, int(rng.integers(5, 21)))
                total = scale() * 5
                tx.add(
                    rng.choice(foreign_sinks),
                    source,
                    total,
                    _CH["wire"],
                    _times(rng, np.array([start])),
                )
                parts = total * rng.dirichlet(np.ones(dests.size)) * 0.95
                tx.add(
                    source,
                    dests,
                    parts,
                    _CH["transfer"],
                    _times(rng, start + rng.integers(1, 4, dests.size)),
                )
                tx.add(
                    dests,
                    -1,
                    parts * 0.98,
                    _CH["cash"],
                    _times(rng, start + rng.integers(4, 7, dests.size)),
                )
                mark(np.append(dests, source), name)
            elif name == "cycle":
                ring = recruit(np.concatenate([retail, business]), int(rng.integers(3, 7)))
                amt = scale()
                day_ = start
                for _rep in range(int(rng.integers(1, 4))):
                    for i in range(ring.size):
                        day_ += int(rng.integers(0, 3))
                        tx.add(
                            ring[i],
                            ring[(i + 1) % ring.size],
                            amt,
                            rng.choice([_CH["wire"], _CH["transfer"]]),
                            _times(rng, np.array([min(day_, days - 1)])),
                        )
                        amt *= rng.uniform(0.95, 0.99)
                mark(ring, name)
            elif name == "scatter_gather":
                source = recruit(np.concatenate([retail, business]), 1)[0]
                mids = recruit(retail, int(rng.integers(3, 9)))
                sink = recruit(np.concatenate([retail, business]), 1)[0]
                total = scale() * 3
                tx.add(
                    rng.choice(foreign_sinks),
                    source,
                    total,
                    _CH["wire"],
                    _times(rng, np.array([start])),
                )
                parts = total * rng.dirichlet(np.ones(mids.size)) * 0.97
                tx.add(
                    source,
                    mids,
                    parts,
                    _CH["transfer"],
                    _times(rng, start + rng.integers(1, 3, mids.size)),
                )
                tx.add(
                    mids,
                    sink,
                    parts * rng.uniform(0.95, 0.99, mids.size),
                    _CH["transfer"],
                    _times(rng, start + rng.integers(3, 6, mids.size)),
                )
                mark(np.concatenate([[source, sink], mids]), name)
            elif name == "structuring":
                acct = recruit(np.concatenate([retail, business]), 1)[0]
                k = int(rng.integers(3, 9))
                amt = T * rng.uniform(0.9, 0.999, k)
                tx.add(
                    -1, acct, amt, _CH["cash"], _times(rng, start + np.sort(rng.integers(0, 10, k)))
                )
                if rng.random() < 0.6:
                    tx.add(
                        acct,
                        rng.choice(foreign_sinks),
                        amt.sum() * 0.9,
                        _CH["wire"],
                        _times(rng, np.array([start + 11])),
                    )
                mark(np.array([acct]), name)
            elif name == "pass_through":
                acct = recruit(np.concatenate([retail, business]), 1)[0]
                for _rep in range(int(rng.integers(3, 7))):
                    day_ = start + int(rng.integers(0, 14))
                    amt = scale() * 2
                    t_in = _times(rng, np.array([min(day_, days - 1)]))
                    tx.add(rng.choice(foreign_sinks), acct, amt, _CH["wire"], t_in)
                    tx.add(
                        acct,
                        rng.choice(foreign_sinks),
                        amt * rng.uniform(0.9, 0.99),
                        _CH["wire"],
                        t_in + rng.integers(1800, 20 * 3600),
                    )
                mark(np.array([acct]), name)
            elif name == "high_risk_jurisdiction":
                acct = recruit(np.concatenate([retail, business]), 1)[0]
                k = int(rng.integers(3, 8))
                amt = np.round(scale() * rng.uniform(1, 3, k), -3)
                flip = rng.random(k) < 0.5
                other = rng.choice(risky, k)
                tx.add(
                    np.where(flip, acct, other),
                    np.where(flip, other, acct),
                    np.maximum(amt, 1000.0),
                    _CH["wire"],
                    _times(rng, start + rng.integers(0, 14, k)),
                )
                mark(np.array([acct]), name)
            else:
                raise ValueError(f"unknown typology {name!r}; expected one of {TYPOLOGIES}")

    src, dst, amount, channel, t_s = tx.arrays()
    t_s = np.minimum(t_s, days * DAY_S - 1)
    ids = _account_ids(rng, n)
    start_ns = np.datetime64(cfg.start, "ns").astype(np.int64)
    order = np.argsort(t_s, kind="stable")
    src, dst, amount, channel, t_s = (a[order] for a in (src, dst, amount, channel, t_s))
    ids_null = np.append(ids, None)  # index -1 → None (cash from/to outside the bank)
    tx_ids = rng.permutation(np.arange(src.size)) + 10_000_000
    transactions = pl.DataFrame(
        {
            "tx_id": tx_ids.astype(str),
            "ts": pl.Series(start_ns + t_s * 1_000_000_000).cast(pl.Datetime("ns")),
            "from_account": pl.Series(ids_null[src].tolist(), dtype=pl.String),
            "to_account": pl.Series(ids_null[dst].tolist(), dtype=pl.String),
            "amount": np.round(amount, 2),
            "currency": cfg.currency,
            "channel": np.asarray(CHANNELS)[channel],
        }
    )
    rating = np.where(
        np.isin(country, HIGH_RISK_COUNTRIES) | (rng.random(n) < 0.05),
        "high",
        np.where(rng.random(n) < 0.2, "medium", "low"),
    )
    accounts = pl.DataFrame(
        {
            "account": ids.tolist(),
            "customer": [f"C{c:07d}" for c in rng.permutation(n)],
            "segment": np.asarray(("retail", "business", "correspondent"))[segment],
            "country": country.astype(str),
            "risk_rating": rating,
        }
    )
    labels = pl.DataFrame(
        {"account": ids.tolist(), "is_suspicious": label, "typology": typology.astype(str)}
    )
    return GeneratedData(transactions, accounts, labels)


def _account_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random 10-digit account numbers (no order, no pattern a model could learn)."""
    ids = rng.choice(9_000_000_000, size=n, replace=False) + 1_000_000_000
    return ids.astype(str).astype(object)
