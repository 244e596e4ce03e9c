"""Settings of the FX-rate aggregation from free public APIs (the ``[fx]`` table).

Each source has its own table (``[fx.ecb]``, ``[fx.open_er_api]`` …): its URL, its quality
weight and its own update interval. The exchangerate.host access key is a secret: set it in
the file or, better, in the environment (``RISKSTREAM_FX__EXCHANGERATE_HOST_ACCESS_KEY``); it
is held as a :class:`pydantic.SecretStr`, so ``repr``, ``model_dump(mode="json")`` and the
settings fingerprint show ``**********``, never the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator

from riskstream.core.config import ConfigModel

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]

ECB_CURRENCIES = (
    "EUR", "USD", "JPY", "CZK", "DKK", "GBP", "HUF", "PLN", "RON", "SEK", "CHF", "ISK", "NOK",
    "TRY", "AUD", "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW", "MXN", "MYR", "NZD",
    "PHP", "SGD", "THB", "ZAR",
)  # fmt: skip
"""The euro and the 29 currencies of the ECB's daily reference rates (BGN left the list
when Bulgaria joined the euro on 1 January 2026): the default set published, since every
one of them is quoted by all five sources, so each rate is cross-checked."""


class FxSourceConfig(ConfigModel):
    """One public API.

    Attributes
    ----------
    enabled : bool
        Poll it (a disabled source is never asked and counts as not answering).
    url : str
        The endpoint (the default is the provider's documented "latest rates" URL).
    quality : float
        Weight for the source's quality, in (0, 1] (see :mod:`riskstream.feeds.fx.aggregate`
        for the defaults and why).
    interval_s : float
        The source's own update interval: it is polled no more often than
        ``max(poll_interval_s, interval_s)``.
    """

    enabled: bool = True
    url: str
    quality: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
    interval_s: Seconds = 0.0

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("a URL starting http:// or https://")
        return url


class FxConfig(ConfigModel):
    """The ``[fx]`` table: polling, aggregation and the five sources.

    Attributes
    ----------
    base : str
        Currency every published rate is quoted against (units of currency per one base).
    currencies : tuple of str
        Currencies to publish; empty publishes every ISO code enough sources quote.
    min_sources : int
        Fewest sources that must survive the staleness and outlier checks for a rate to be
        published (2: a number nobody else confirms is not published).
    poll_interval_s : float
        Time between polls (each source: or its own slower ``interval_s``).
    timeout_s : float
        Whole-request timeout (connect, read, write, pool) per attempt.
    retries : int
        Extra attempts after a failed one (timeouts, connection errors, 429, 5xx).
    backoff_s : float
        Wait before the first retry; doubled before each next one (exponential backoff).
    max_retry_after_s : float
        A 429's ``Retry-After`` up to this long is waited out within the poll; a longer one
        ends the poll for that source, which is not asked again before the time it named.
    breaker_failures : int
        Consecutive failed polls (after their retries) that open a source's circuit breaker.
    breaker_reset_s : float
        How long an open breaker keeps the source unasked before one trial request.
    stale_after_s : float
        A source whose quotes are older than this, against the newest response in the set
        (or ``--as-of``), is dropped as stale.
    freshness_half_life_s : float
        A quote's freshness weight halves with every this much age.
    outlier_mad_k : float
        k: a quote further than k robust deviations (1.4826 MAD of the log rates) from the
        cross-source median is an outlier, if also further than ``outlier_pct``.
    outlier_pct : float
        x: the percentage distance from the median below which a quote is never an
        outlier (and above which it always is, when fewer than three quotes make a MAD
        meaningless).
    responses_dir : Path, optional
        Where every raw response set is saved with its fetch times (default
        ``<store.data_dir>/fx/responses``).
    exchangerate_host_access_key : SecretStr, optional
        exchangerate.host's access key; without one that source is not polled.
    """

    base: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    currencies: tuple[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], ...] = ECB_CURRENCIES
    min_sources: Annotated[int, Field(ge=1, le=5)] = 2
    poll_interval_s: PositiveSeconds = 300.0
    timeout_s: PositiveSeconds = 10.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    backoff_s: Seconds = 1.0
    max_retry_after_s: Seconds = 60.0
    breaker_failures: Annotated[int, Field(ge=1)] = 3
    breaker_reset_s: PositiveSeconds = 900.0
    stale_after_s: PositiveSeconds = 4 * 86_400.0
    freshness_half_life_s: PositiveSeconds = 86_400.0
    outlier_mad_k: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5.0
    outlier_pct: Annotated[float, Field(gt=0, lt=100, allow_inf_nan=False)] = 2.0
    responses_dir: Path | None = None
    exchangerate_host_access_key: SecretStr | None = None

    # The sources. Quality weights: the ECB is the official reference fixing (1.0);
    # Frankfurter republishes the same ECB numbers (0.8: not an independent observation);
    # open.er-api and exchangerate.host are commercial aggregators (0.7; exchangerate.host
    # is refreshed intraday but its free tier is rate-limited); fawazahmed0's currency-api is
    # a community dataset rebuilt daily from other APIs (0.5). Intervals: the ECB and
    # Frankfurter change once a business day (~16:00 CET) and currency-api rebuilds daily,
    # all three static files behind CDNs: polled every poll_interval_s, so a new fixing is
    # picked up within minutes. open.er-api updates once a day and rate-limits clients that
    # ask too often: hourly at most, and never before the next update its response names.
    # exchangerate.host's free tier allows about 100 requests a month: one every 8 hours.
    ecb: FxSourceConfig = FxSourceConfig(
        url="https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml", quality=1.0
    )
    frankfurter: FxSourceConfig = FxSourceConfig(
        url="https://api.frankfurter.dev/v1/latest", quality=0.8
    )
    open_er_api: FxSourceConfig = FxSourceConfig(
        url="https://open.er-api.com/v6/latest/USD", quality=0.7, interval_s=3_600.0
    )
    exchangerate_host: FxSourceConfig = FxSourceConfig(
        url="https://api.exchangerate.host/live", quality=0.7, interval_s=28_800.0
    )
    currency_api: FxSourceConfig = FxSourceConfig(
        url="https://cdn.jsdelivr.net/npm/@fawazahmed0/currency-api@latest/v1/currencies/usd.json",
        quality=0.5,
    )

    @model_validator(mode="before")
    @classmethod
    def _source_defaults(cls, data: Any) -> Any:
        """A source table given in part (``[fx.ecb] url = …``, or one environment variable)
        keeps that source's other defaults."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for name in ("ecb", "frankfurter", "open_er_api", "exchangerate_host", "currency_api"):
            given = data.get(name)
            if isinstance(given, Mapping):
                data[name] = {**cls.model_fields[name].default.model_dump(), **given}
        return data
