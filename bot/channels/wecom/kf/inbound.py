"""One entry of ``kf/sync_msg``'s ``msg_list`` -> what the channel acts on. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

CUSTOMER, EVENT, SERVICER = 3, 4, 5  # message origins
ENDED = 3  # session_status_change: the person ended the session (it returns to the bot)
MAX_KEY = 120  # processed_updates.update_key holds 128
MENU_SEP = "|"  # a click item's id: "<choice id>|<flow.step>"


@dataclass(frozen=True)
class KfMessage:
    key: str  # dedupe key: "kf:<msgid>"
    user: str  # external_userid
    open_kfid: str
    origin: int
    kind: str  # text | image | file | event | other
    send_time: int = 0
    text: str = ""
    menu_id: str = ""
    media_id: str = ""
    event: str = ""
    welcome_code: str = ""
    scene: str = ""
    change_type: int = 0
    servicer: str = ""

    def choice(self) -> tuple[str, str | None] | None:
        """A menu click: (choice id, the step it was offered at)."""
        if not self.menu_id:
            return None
        choice, sep, step = self.menu_id.rpartition(MENU_SEP)
        return (choice, step or None) if sep else (self.menu_id, None)


def menu_id(choice: str, step: str | None) -> str:
    """The click id of a choice (at most 64 bytes): with its step when that fits."""
    full = f"{choice}{MENU_SEP}{step}" if step else choice
    return full if len(full.encode("utf-8")) <= 64 else choice


def dedupe_key(msgid: str) -> str:
    key = f"kf:{msgid}"
    if len(key) > MAX_KEY:
        key = "kf:" + hashlib.sha256(msgid.encode("utf-8")).hexdigest()
    return key


def parse(item: dict[str, Any]) -> KfMessage | None:
    """None for an entry without id or merchant (nothing to act on)."""
    msgid = str(item.get("msgid") or "")
    body = item.get(str(item.get("msgtype") or "")) or {}
    if not isinstance(body, dict):
        body = {}
    kind = str(item.get("msgtype") or "")
    user = str(item.get("external_userid") or body.get("external_userid") or "")
    open_kfid = str(item.get("open_kfid") or body.get("open_kfid") or "")
    if not msgid or not user:
        return None
    try:
        origin = int(item.get("origin") or 0)
        send_time = int(item.get("send_time") or 0)
    except (TypeError, ValueError):
        return None
    common = {"key": dedupe_key(msgid), "user": user, "open_kfid": open_kfid,
              "origin": origin, "send_time": send_time,
              "servicer": str(item.get("servicer_userid") or "")}
    if kind == "text":
        return KfMessage(kind="text", text=str(body.get("content") or ""),
                         menu_id=str(body.get("menu_id") or ""), **common)
    if kind in ("image", "file") and body.get("media_id"):
        return KfMessage(kind=kind, media_id=str(body["media_id"]), **common)
    if kind == "event":
        try:
            change = int(body.get("change_type") or 0)
        except (TypeError, ValueError):
            change = 0
        return KfMessage(kind="event", event=str(body.get("event_type") or ""),
                         welcome_code=str(body.get("welcome_code") or ""),
                         scene=str(body.get("scene_param") or body.get("scene") or ""),
                         change_type=change, **{**common, "servicer": str(
                             body.get("new_servicer_userid") or common["servicer"])})
    return KfMessage(kind="other", **common)
