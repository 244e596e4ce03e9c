"""Structured logs: one JSON object per line, with secrets redacted.

Every record passes :class:`RedactSecrets`, which masks API keys (``rsk_…`` tokens) and
the values of credential-bearing fields (``X-API-Key``, ``Authorization``, ``password``,
``secret``, ``token``) wherever they appear in the message or its arguments — a key pasted
into a bad request still never reaches the log. The service itself never logs a key; this
is the second line of defence.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from riskstream.service.auth import SECRET_PATTERN

_FIELD_SECRET = re.compile(
    r"(?i)((?:x-api-key|authorization|api_key|password|secret|token)['\"]?\s*[:=]\s*['\"]?)"
    r"([^'\"\s,}]+)"
)
REDACTED = "[REDACTED]"
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    """``text`` with API keys and credential field values replaced by ``[REDACTED]``."""
    text = SECRET_PATTERN.sub(REDACTED, text)
    return _FIELD_SECRET.sub(lambda m: m.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Redacts the formatted message (and drops the raw args) of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep its template only
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


def configure_logging(json_lines: bool = True, level: int = logging.INFO) -> logging.Handler:
    """Send the ``riskstream`` and ``uvicorn`` loggers to standard error, structured and
    redacted. Returns the handler (tests attach their own the same way)."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    handler.addFilter(RedactSecrets())
    for name in ("riskstream", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs requests
    return handler
