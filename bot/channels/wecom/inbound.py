"""Authenticated callback XML (already flattened to a dict) -> what the channel acts on. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

GREETING_EVENTS = frozenset({"subscribe", "enter_agent"})
MAX_KEY = 120  # processed_updates.update_key holds 128


@dataclass(frozen=True)
class Inbound:
    user: str  # the member's UserID
    kind: str  # text | image | file | event | other
    update_key: str | None  # "m:<MsgId>" or "e:<FromUserName>:<CreateTime>"
    msg_type: str = ""
    text: str = ""
    media_id: str = ""
    filename: str = ""
    event: str = ""

    @property
    def greets(self) -> bool:
        return self.kind == "event" and self.event in GREETING_EVENTS


def update_key(fields: dict[str, str]) -> str | None:
    """The dedupe key: ``MsgId`` for messages; ``FromUserName + CreateTime`` for events."""
    msg_id = fields.get("MsgId", "").strip()
    if msg_id:
        key = f"m:{msg_id}"
    elif fields.get("FromUserName") and fields.get("CreateTime"):
        key = f"e:{fields['FromUserName']}:{fields['CreateTime']}"
    else:
        return None
    if len(key) > MAX_KEY:
        key = key[:2] + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def parse_inbound(fields: dict[str, str]) -> Inbound | None:
    """None when the message names no sender (nothing to answer)."""
    user = fields.get("FromUserName", "").strip()
    if not user:
        return None
    msg_type = fields.get("MsgType", "").strip().lower()
    key = update_key(fields)
    if msg_type == "text":
        return Inbound(user, "text", key, msg_type, text=fields.get("Content", ""))
    if msg_type in ("image", "file") and fields.get("MediaId", "").strip():
        return Inbound(user, msg_type, key, msg_type, media_id=fields["MediaId"].strip(),
                       filename=fields.get("FileName", "").strip())
    if msg_type == "event":
        return Inbound(user, "event", key, msg_type,
                       event=fields.get("Event", "").strip().lower())
    return Inbound(user, "other", key, msg_type)
