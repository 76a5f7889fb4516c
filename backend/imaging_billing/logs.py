"""Logging set-up: one JSON object per line (LOG_FORMAT=json) or plain text.

JSON is the default when stderr is not a terminal (a service manager, a container, a
log shipper), text on a terminal. A request's line carries named fields (`fields` in
`extra`); anything that looks like one of our tokens or secrets is blanked on the way
out, whatever logged it (a driver's error quoting a statement's parameters included).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# Tokens this server issues (`ibs_…`, `ibi_…`, `ibo_…`, …), webhook secrets, and a
# bearer header's value.
SECRET = re.compile(r"\b(?:ib[a-z]|whsec|demo)_[A-Za-z0-9_\-+/=]{8,}|(?i:bearer)\s+\S+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return SECRET.sub(REDACTED, text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return redact(text)


def chosen_format(setting: str | None) -> str:
    if setting in ("json", "text"):
        return setting
    return "text" if sys.stderr.isatty() else "json"


def configure(setting: str | None, level: int = logging.INFO) -> str:
    """Root logger to stderr in the chosen format; uvicorn's loggers propagate to it."""
    chosen = chosen_format(setting)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    return chosen
