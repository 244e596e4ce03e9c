"""``riskstream models``: the model inventory (list, show, review) and its approval workflow.

(``riskstream garch`` and ``riskstream scenarios`` in :mod:`riskstream.cli.models` *run*
models; this group *governs* them.) The inventory lives in the configured reference DB and
is seeded with every model's card on first use. Workflow commands name the acting user and
role; every change is written to the audit log.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from riskstream.cli import app, print_json, settings
from riskstream.cli.universe import open_refdb

inventory_app = typer.Typer(
    help="Model inventory, documentation review and approval.", no_args_is_help=True
)
app.add_typer(inventory_app, name="models")

USER_OPT = typer.Option(..., "--user", help="Who acts (recorded in the audit log).")
ROLE_OPT = typer.Option(
    ..., "--role", help="The actor's role (analyst, compliance, risk_manager, admin)."
)


def _inventory(ctx: typer.Context):
    from riskstream.surveillance.inventory import ModelInventory

    inventory = ModelInventory(open_refdb(settings(ctx)))
    inventory.seed()
    return inventory


@inventory_app.command("list")
def list_command(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Every model with its family, owner, version, approval state and validation date."""
    rows = [{k: v for k, v in m.items() if k != "card"} for m in _inventory(ctx).list()]
    if as_json:
        print_json({"models": rows})
        return
    for m in rows:
        typer.echo(
            f"{m['model_id']:<22} {m['family']:<12} {m['state']:<10} "
            f"v{m['version']:<7} validated {m['validation_date'] or '-':<10} {m['name']}"
        )


@inventory_app.command("show")
def show_command(
    ctx: typer.Context,
    model_id: str = typer.Argument(..., help="Model id (see 'models list')."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A model's card: purpose, owner, data, assumptions, limitations, validation, state."""
    model = _inventory(ctx).get(model_id)
    if as_json:
        print_json(model)
        return
    typer.echo(json.dumps(model, indent=2, default=str))


@inventory_app.command("review")
def review_command(
    ctx: typer.Context,
    max_age_days: int = typer.Option(365, "--max-age-days", help="Oldest acceptable validation."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Documentation review: missing sections, stale validation, metrics off threshold."""
    findings = _inventory(ctx).review(max_age_days)
    if as_json:
        print_json({"findings": [f.as_dict() for f in findings], "count": len(findings)})
        return
    for f in findings:
        typer.echo(f"{f.severity:<8} {f.model_id:<22} {f.check:<24} {f.detail}")
    typer.echo(f"{len(findings)} finding(s)")


@inventory_app.command("validate")
def validate_command(
    ctx: typer.Context,
    model_id: str = typer.Argument(...),
    user: str = USER_OPT,
    role: str = ROLE_OPT,
    evidence: str = typer.Option("", "--evidence", help="Validation report or reference."),
    metrics: Path | None = typer.Option(None, "--metrics", help="JSON of measured metrics."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Record a passed validation (today) and move the model to 'validated'."""
    values = json.loads(metrics.read_text()) if metrics else None
    model = _inventory(ctx).record_validation(
        model_id, user=user, role=role, metrics=values, evidence=evidence
    )
    _done(model, as_json)


@inventory_app.command("set-state")
def set_state_command(
    ctx: typer.Context,
    model_id: str = typer.Argument(...),
    state: str = typer.Option(..., "--state", help="approved, retired or draft."),
    user: str = USER_OPT,
    role: str = ROLE_OPT,
    reason: str = typer.Option("", "--reason"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Approve, retire or send back a model (risk_manager or admin to approve/retire)."""
    _done(_inventory(ctx).transition(model_id, state, user=user, role=role, reason=reason), as_json)


def _done(model: dict, as_json: bool) -> None:
    if as_json:
        print_json({k: v for k, v in model.items() if k != "card"})
    else:
        typer.echo(f"{model['model_id']}: {model['state']} (by {model['updated_by']})")
