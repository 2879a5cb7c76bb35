"""Log lines an operations team can search: one structured line per event that matters, as JSON when
`CSMS_LOG_FORMAT=json`, and never a secret in any line (docs/adr/0140-operations.md).

Code that logs an event passes its facts as `extra` (`event`, `station_id`, `node`, `reason`,
`action`, `message_id`, `call_id`, `code`, `seconds`); the JSON formatter writes them as fields, the
plain one appends them as `key=value`. Both scrub what must never be written: Basic/Bearer/Token
credentials, passwords and secrets in key=value or JSON form, AuthorizationKey values and private
keys — whoever logged them.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone

EVENT_FIELDS = ("event", "station_id", "node", "reason", "action", "message_id", "call_id", "code", "seconds",
                "remote_address", "status")

_SECRETS = [
    (re.compile(r"(?i)\b(authorization\b[\"']?\s*[:=]?\s*[\"']?\s*(?:basic|bearer|token)\s+)[A-Za-z0-9+/=._~-]+"),
     r"\1********"),
    (re.compile(r"(?i)\b((?:basic|bearer|token)\s+)[A-Za-z0-9+/=._~-]{12,}"), r"\1********"),
    (re.compile(r"(?i)((?:password|passwd|secret|api[_-]?key|token|authorization_?key)[\"']?\s*[:=]\s*[\"']?)"
                r"[^\s\"',}]+"), r"\1********"),
    (re.compile(r"(\"key\"\s*:\s*\"AuthorizationKey\"\s*,\s*\"value\"\s*:\s*\")[^\"]*"), r"\1********"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
     "[private key redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class PlainFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        facts = " ".join(f"{name}={getattr(record, name)}" for name in EVENT_FIELDS
                         if getattr(record, name, None) not in (None, "") and name != "event")
        return redact(f"{text} [{facts}]" if facts else text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EVENT_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, ""):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, default=str, ensure_ascii=False))
