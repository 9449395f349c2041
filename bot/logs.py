"""Log set-up: plain lines or one JSON object per line (``BOT_LOG_FORMAT=json``), and in both
no ID card or passport number, whichever logger a record comes from (a library at DEBUG may
print a whole update)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# An 18-character resident ID, a passport number (one or two letters, 7-8 digits).
_PERSONAL = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|[A-Za-z]{1,2}\d{7,8})(?![0-9A-Za-z])")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    return _PERSONAL.sub("[number]", text)


class Redact(logging.Filter):
    """Formats the record's message once, without personal numbers, before any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


class TextFormatter(logging.Formatter):
    def formatException(self, ei) -> str:
        return redact(super().formatException(ei))  # an error's text may quote the input


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(Redact())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
