"""riskstream limits: list and set limits, kill-switch status / engage / release, budgets.

Every change names its actor (``--user``, ``--as-role``) and a ``--reason``; the limits
package checks the role (``risk_manager`` or above to change anything) and the change is
written with its audit entry to the reference DB (``riskstream.store.limits_repo``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from riskstream.cli import app, print_json, settings

limits_app = typer.Typer(help="Limits, kill switches and risk budgets.", no_args_is_help=True)
switch_app = typer.Typer(help="Kill switches: status, engage, release.", no_args_is_help=True)
limits_app.add_typer(switch_app, name="killswitch")
app.add_typer(limits_app, name="limits")


@contextmanager
def _repo(ctx: typer.Context) -> Iterator[Any]:
    """The limits repository on the configured reference DB, closed on leaving (or error)."""
    from riskstream.cli.universe import open_refdb
    from riskstream.store.limits_repo import LimitRepository

    repo = LimitRepository(open_refdb(settings(ctx)))
    try:
        yield repo
    finally:
        repo.db.close()


def _actor(user: str, role: str) -> Any:
    from riskstream.limits.model import Actor, Role

    return Actor(user, Role.parse(role))


USER = typer.Option("cli", "--user", help="Who is acting (recorded in the audit log).")
ROLE = typer.Option("viewer", "--as-role", help="viewer | analyst | risk_manager | admin.")
REASON = typer.Option("", "--reason", help="Why (required for changes; audited).")
JSON = typer.Option(False, "--json", help="Print one JSON object.")


@limits_app.command("list")
def list_limits(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every limit in force."""
    from riskstream.limits.registry import LimitRegistry

    with _repo(ctx) as repo:
        rows = [lim.as_dict() for lim in LimitRegistry(repo).limits()]
    if as_json:
        print_json({"limits": rows})
        return
    for r in rows:
        state = "" if r["enabled"] else "  (disabled)"
        typer.echo(f"{r['limit_id']:<48} soft {r['soft']:>16,.2f}  hard {r['hard']:>16,.2f}{state}")
    if not rows:
        typer.echo("no limits set")


@limits_app.command("set")
def set_limit(
    ctx: typer.Context,
    scope: str = typer.Option(
        ..., "--scope", help="firm | desk | strategy | trader | instrument | asset_class."
    ),
    key: str = typer.Option("firm", "--key", help="The member: a desk's name, an id ..."),
    limit_type: str = typer.Option(
        ...,
        "--type",
        help="var | es | lvar | gross_notional | "
        "net_notional | position_size | delta | gamma | vega | "
        "concentration | drawdown | liquidation_days | stress_loss.",
    ),
    soft: float = typer.Option(..., "--soft", help="Warning threshold."),
    hard: float = typer.Option(..., "--hard", help="Breach threshold."),
    disabled: bool = typer.Option(False, "--disabled", help="Store it but do not monitor."),
    user: str = USER,
    role: str = ROLE,
    reason: str = REASON,
    as_json: bool = JSON,
) -> None:
    """Create or change a limit (role risk_manager or above)."""
    from riskstream.limits.model import LimitDefinition
    from riskstream.limits.registry import LimitRegistry

    actor = _actor(user, role)
    limit = LimitDefinition(scope, key, limit_type, soft, hard, enabled=not disabled)
    with _repo(ctx) as repo:
        change = LimitRegistry(repo).set_limit(actor, limit, reason)
    if as_json:
        print_json(change)
    else:
        typer.echo(f"set {change['limit_id']}: soft {limit.soft:,.2f}, hard {limit.hard:,.2f}")


@limits_app.command("delete")
def delete_limit(
    ctx: typer.Context,
    limit_id: str = typer.Argument(..., help="scope:key/type, as `limits list` shows it."),
    user: str = USER,
    role: str = ROLE,
    reason: str = REASON,
) -> None:
    """Remove a limit (role risk_manager or above)."""
    from riskstream.limits.registry import LimitRegistry

    actor = _actor(user, role)
    with _repo(ctx) as repo:
        LimitRegistry(repo).delete_limit(actor, limit_id, reason)
    typer.echo(f"deleted {limit_id}")


@switch_app.command("status")
def switch_status(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every kill switch that has ever moved, and its state."""
    from riskstream.limits.killswitch import KillSwitchBoard

    with _repo(ctx) as repo:
        rows = KillSwitchBoard(repo).status()
    if as_json:
        print_json({"kill_switches": rows})
        return
    for r in rows:
        typer.echo(
            f"{r['scope_id']:<32} {r['state']:<9} {r['trigger']:<12} {r['actor']}: {r['reason']}"
        )
    if not rows:
        typer.echo("all scopes active")


@switch_app.command("engage")
def switch_engage(
    ctx: typer.Context,
    scope: str = typer.Argument(..., help="firm, or scope:key (desk:Rates, instrument:42)."),
    state: str = typer.Option("halted", "--state", help="halted | reducing."),
    user: str = USER,
    role: str = ROLE,
    reason: str = REASON,
) -> None:
    """Engage a kill switch by hand (role risk_manager or above)."""
    from riskstream.limits.killswitch import KillSwitchBoard

    actor = _actor(user, role)
    with _repo(ctx) as repo:
        t = KillSwitchBoard(repo).engage(actor, scope, reason or "manual", state)
    typer.echo(f"{t.scope_id}: {t.before.value} -> {t.after.value}")


@switch_app.command("release")
def switch_release(
    ctx: typer.Context,
    scope: str = typer.Argument(..., help="firm, or scope:key."),
    user: str = USER,
    role: str = ROLE,
    reason: str = REASON,
) -> None:
    """Release a kill switch (role risk_manager or above, with a reason)."""
    from riskstream.limits.killswitch import KillSwitchBoard

    actor = _actor(user, role)
    with _repo(ctx) as repo:
        t = KillSwitchBoard(repo).release(actor, scope, reason)
    typer.echo(f"{t.scope_id}: {t.before.value} -> {t.after.value}")


@limits_app.command("budgets")
def budgets(
    ctx: typer.Context,
    by: str = typer.Option("strategy", "--by", help="strategy | trader | desk."),
    total: float | None = typer.Option(
        None, "--total", help="Budget to allocate (default: the firm VaR limit's hard value)."
    ),
    method: str = typer.Option("euler", "--method", help="euler | equal."),
    as_json: bool = JSON,
) -> None:
    """Allocate a VaR budget across books by Euler contribution and report consumption.

    Contributions come from one risk-engine refresh of the reference universe at its
    reference prices (``riskstream risk``'s engine); the allocation is proportional to
    them (``--method euler``) or equal.
    """
    from riskstream.cli.engine import build_engine, load_history
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.errors import InputError
    from riskstream.limits.budget import RiskBudget
    from riskstream.limits.exposures import allocate_to_positions
    from riskstream.limits.registry import LimitRegistry

    if by not in ("strategy", "trader", "desk"):
        raise InputError("--by", by, "one of strategy, trader, desk")
    cfg = settings(ctx)
    universe = ensure_universe(cfg)
    engine = build_engine(universe, cfg.risk, history=load_history(cfg), models=cfg.models)
    snap = engine.refresh()
    contrib = allocate_to_positions(snap.component_var, engine.pos_inst, engine.pos_qty)
    if total is None:
        with _repo(ctx) as repo:
            firm = [x for x in LimitRegistry(repo).limits() if x.limit_id == "firm:firm/var"]
        total = firm[0].hard if firm else snap.headline.var
    budget = RiskBudget(total, method).fit(contrib, engine.pos_labels[by])
    lines = budget.consumption(contrib, engine.pos_labels[by])
    payload = {
        "by": by,
        "total_budget": total,
        "var": snap.headline.var,
        "lines": [x.as_dict() for x in lines],
        "over_budget": [x.label for x in lines if x.over_budget],
    }
    if as_json:
        print_json(payload)
        return
    typer.echo(f"VaR {snap.headline.var:,.0f}; budget {total:,.0f} by {by}")
    for x in lines:
        flag = "  OVER" if x.over_budget else ""
        typer.echo(
            f"  {x.label:<28} budget {x.allocation:>14,.0f}  uses {x.contribution:>14,.0f}"
            f"  ({x.consumption:.0%}){flag}"
        )
