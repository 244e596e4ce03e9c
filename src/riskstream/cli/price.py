"""``riskstream price``: price one option or bond and print its Greeks or risk figures."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import typer

from riskstream.cli import app, date_option, print_json, settings
from riskstream.core.errors import InputError

price_app = typer.Typer(
    help="Price one instrument and print its Greeks (see docs/architecture.md, Pricing).",
    no_args_is_help=True,
)
app.add_typer(price_app, name="price")

OPTION_CONVENTIONS = {
    "price": "per unit of underlying",
    "delta": "dV/dS (dV/dF for --future)",
    "gamma": "d2V/dS2",
    "vega": "dV/dsigma per 1.00 of volatility (divide by 100 per vol point)",
    "theta": "dV/dt per year of calendar time (divide by 365 per day)",
    "rho": "dV/dr per 1.00 of rate (for --future: F held fixed)",
    "vanna": "d2V/dS dsigma",
    "volga": "d2V/dsigma2",
    "rates": "annual decimals, continuously compounded; expiry in years",
}


def _finite(option: str, value: float, *, minimum: float, strict: bool, expected: str) -> float:
    ok = math.isfinite(value) and (value > minimum if strict else value >= minimum)
    if not ok:
        raise InputError(option, value, expected)
    return value


def _choice(option: str, value: str, choices: tuple[str, ...]) -> str:
    lowered = value.strip().lower()
    if lowered not in choices:
        raise InputError(option, value, "one of " + ", ".join(choices))
    return lowered


@price_app.command("option")
def option(
    ctx: typer.Context,
    spot: float = typer.Option(
        ..., "--spot", help="Underlying spot price (the futures price with --future), > 0."
    ),
    strike: float = typer.Option(..., "--strike", help="Strike price, > 0."),
    rate: float = typer.Option(
        ..., "--rate", help="Risk-free rate, annual decimal, continuously compounded."
    ),
    vol: float = typer.Option(..., "--vol", help="Volatility, annual decimal (0.2 = 20%), >= 0."),
    expiry: float = typer.Option(..., "--expiry", help="Time to expiry in years, >= 0."),
    right: str = typer.Option(..., "--right", help="call or put."),
    dividend: float = typer.Option(
        0.0,
        "--dividend",
        help="Continuous dividend yield (or foreign rate for FX), annual decimal.",
    ),
    style: str = typer.Option(
        "european",
        "--style",
        help="european (closed form) or american (Crank-Nicolson PDE with early exercise; "
        "Greeks from the grid and by bumping σ and r).",
    ),
    future: bool = typer.Option(
        False, "--future", help="Option on a futures price (Black-76): --spot is the futures price."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Price a vanilla option and its Greeks: vega per 1.00 of volatility, theta per year
    (dV/dt, calendar time), rho per 1.00 of rate (for --future, with F held fixed)."""
    from riskstream import pricing

    _finite("--spot", spot, minimum=0.0, strict=True, expected="a price > 0")
    _finite("--strike", strike, minimum=0.0, strict=True, expected="a price > 0")
    _finite("--vol", vol, minimum=0.0, strict=False, expected="a volatility >= 0 (0.2 = 20%)")
    _finite("--expiry", expiry, minimum=0.0, strict=False, expected="a time in years >= 0")
    _finite("--rate", rate, minimum=-math.inf, strict=True, expected="a finite rate")
    _finite("--dividend", dividend, minimum=-math.inf, strict=True, expected="a finite yield")
    if future and dividend != 0.0:
        raise InputError("--dividend", dividend, "0 with --future (a futures price has no yield)")
    right = _choice("--right", right, ("call", "put"))
    style = _choice("--style", style, ("european", "american"))
    is_call = right == "call"
    cfg = settings(ctx).pricing

    if style == "european":
        if future:
            greeks = pricing.black76_greeks(spot, strike, expiry, rate, vol, is_call)
            model = "black-76"
        else:
            greeks = pricing.bsm_greeks(spot, strike, expiry, rate, dividend, vol, is_call)
            model = "black-scholes-merton"
    else:
        tree = {"steps": cfg.american_steps, "method": cfg.american_method}
        if future:
            greeks = pricing.american_black76_greeks(
                spot, strike, expiry, rate, vol, is_call, **tree
            )
        else:
            greeks = pricing.american_greeks(
                spot, strike, expiry, rate, dividend, vol, is_call, **tree
            )
        steps = cfg.american_steps or pricing.american.DEFAULT_STEPS[cfg.american_method]
        model = f"american, {cfg.american_method}, {steps} time steps"

    result: dict[str, Any] = {name: float(value) for name, value in greeks.as_dict().items()}
    payload = {
        **result,
        "inputs": {
            "spot": spot,
            "strike": strike,
            "rate": rate,
            "vol": vol,
            "expiry": expiry,
            "right": right,
            "dividend": dividend,
            "style": style,
            "future": future,
        },
        "model": model,
        "conventions": OPTION_CONVENTIONS,
    }
    if as_json:
        print_json(payload)
        return
    typer.echo(f"{style} {right} ({model})")
    for name, value in result.items():
        typer.echo(f"  {name:<6} {value: .6f}   {OPTION_CONVENTIONS[name]}")


@price_app.command("bond")
def bond(
    coupon: float = typer.Option(..., "--coupon", help="Annual coupon rate, decimal (0.05)."),
    yield_: float | None = typer.Option(
        None, "--yield", help="Yield to maturity, compounded --frequency times a year."
    ),
    price: float | None = typer.Option(
        None, "--price", help="Clean price per 100 face (instead of --yield)."
    ),
    maturity: float | None = typer.Option(
        None, "--maturity", help="Years to maturity (no accrued interest is assumed)."
    ),
    maturity_date: str | None = typer.Option(
        None, "--maturity-date", help="Maturity date YYYY-MM-DD (with --settlement)."
    ),
    settlement: str | None = typer.Option(
        None, "--settlement", help="Settlement date YYYY-MM-DD (with --maturity-date)."
    ),
    frequency: int = typer.Option(2, "--frequency", help="Coupons per year: 1, 2, 4 or 12."),
    day_count: str = typer.Option(
        "30/360", "--day-count", help="30/360 (US bond basis) or ACT/ACT-ICMA."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Price a fixed-rate bullet bond from its yield (or its yield from a clean price) with
    accrued interest, Macaulay and modified duration (years), convexity and DV01 (per 100
    face, per basis point)."""
    from riskstream import pricing

    _finite("--coupon", coupon, minimum=0.0, strict=False, expected="a coupon rate >= 0")
    if (yield_ is None) == (price is None):
        raise InputError("--yield/--price", None, "exactly one of --yield or --price")
    if price is not None:
        _finite("--price", price, minimum=0.0, strict=True, expected="a clean price > 0")
    if yield_ is not None:
        _finite("--yield", yield_, minimum=-0.99 * frequency, strict=True, expected="a yield")
    settle = date_option("--settlement", settlement)
    mat_date = date_option("--maturity-date", maturity_date)
    if mat_date is not None:
        if settle is None:
            raise InputError("--settlement", None, "a settlement date with --maturity-date")
        dated = pricing.FixedRateBond(mat_date, coupon, frequency, day_count)  # type: ignore[arg-type]
        years = dated.maturity_years(settle)
        accrued = dated.accrued_interest(settle)
    elif maturity is not None:
        _finite("--maturity", maturity, minimum=0.0, strict=True, expected="years > 0")
        pricing.FixedRateBond(dt.date(2100, 1, 1), coupon, frequency, day_count)  # type: ignore[arg-type]  # validates
        years = maturity
        accrued = float(pricing.bond_accrued_interest(coupon, years, frequency))
    else:
        raise InputError("--maturity", None, "--maturity YEARS or --maturity-date DATE")

    if yield_ is None:
        yield_ = float(pricing.bond_yield_from_price(price, coupon, years, frequency, clean=True))
    risk = pricing.bond_risk(yield_, coupon, years, frequency)
    payload = {
        "yield": yield_,
        "dirty_price": float(risk.dirty_price),
        "clean_price": float(risk.dirty_price) - accrued,
        "accrued_interest": accrued,
        "macaulay_duration": float(risk.macaulay_duration),
        "modified_duration": float(risk.modified_duration),
        "convexity": float(risk.convexity),
        "dv01": float(risk.dv01),
        "inputs": {
            "coupon": coupon,
            "maturity_years": years,
            "frequency": frequency,
            "day_count": day_count,
            "settlement": settle,
            "maturity_date": mat_date,
        },
        "conventions": {
            "prices": "per 100 face; clean = dirty - accrued",
            "yield": f"compounded {frequency} times a year",
            "durations": "years; modified = -(1/P) dP/dy",
            "convexity": "(1/P) d2P/dy2, years^2",
            "dv01": "fall in dirty price per 100 face for +1 bp of yield",
        },
    }
    if as_json:
        print_json(payload)
        return
    for name, value in payload.items():
        if not isinstance(value, dict):
            typer.echo(f"{name:<18} {value: .6f}")
