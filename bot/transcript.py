"""What a turn's row says: the incoming event (sensitive numbers masked) and the replies, as the
JSON of the ``turns`` table. Pure functions."""

from __future__ import annotations

import re
from typing import Any

from bot.engine.model import (
    Choice,
    Choose,
    Event,
    Files,
    Hello,
    Reply,
    ScanRead,
    Step,
    Text,
    Upload,
)
from bot.engine.validators import VALIDATORS, mask_id

# A long run of digits (an ID number typed at the wrong question, a bank card): masked wherever
# it appears. Phone numbers (11 digits) stay readable for the service team.
_LONG_DIGITS = re.compile(r"\d{14,}[\dXx]?")
# An answer to a sensitive question: every word of letters and digits that holds a digit.
_NUMBERISH = re.compile(r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]*[0-9０-９][0-9A-Za-z０-９Ａ-Ｚａ-ｚ]*")


def mask_text(text: str, step: Step | None) -> str:
    validator = VALIDATORS.get(step.validator or "") if step is not None else None
    if validator is not None and validator.sensitive:
        text = _NUMBERISH.sub(lambda m: mask_id(m.group()), text)
    return _LONG_DIGITS.sub(lambda m: mask_id(m.group()), text)


def incoming(event: Event, step: Step | None) -> dict[str, Any] | None:
    """``step``: the question the event answers (the one before the turn)."""
    if isinstance(event, Text):
        return {"text": mask_text(event.text, step)}
    if isinstance(event, Choose):
        return {"choice": event.id}
    if isinstance(event, Upload):
        return {"files": [event.name]}
    if isinstance(event, Files):
        return {"files": [u.name for u in event.uploads]}
    if isinstance(event, Hello):
        return {"event": "hello"}
    if isinstance(event, ScanRead):  # what was read stays among the answers only
        return {"event": "license_read"}
    return None


def replies_json(replies: list[Reply]) -> list[dict[str, Any]]:
    return [{
        "text": r.text,
        "choices": [{"id": c.id, "label": c.label} for c in r.choices],
        "document": {"name": r.document.name} if r.document is not None else None,
    } for r in replies]


def replies_from(stored: list[dict[str, Any]]) -> list[Reply]:
    """Replies as stored, to send again. A document is named in its text's place: its file was
    in the channel's hands and is not kept for a second send."""
    out = []
    for r in stored:
        choices = tuple(Choice(c["id"], c["label"]) for c in r.get("choices") or ())
        doc = r.get("document")
        text = r.get("text") or ""
        if doc and not text:
            text = doc.get("name", "")
        out.append(Reply(text, choices))
    return out
