"""A turn's replies -> kf messages. Pure formatters: no sending here.

WeCom allows 5 messages per merchant message, so a turn is merged: its texts and its question
go out as one ``msgmenu`` (the choices as click items) or one text, split only where kf's size
limits demand it (text 2048 bytes; a menu's head 1024 bytes, at most 10 items of 128 bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.channels.wecom.api import split_text
from bot.channels.wecom.kf.inbound import menu_id
from bot.engine.model import Reply

TEXT_LIMIT = 2048
HEAD_LIMIT = 1024
MENU_ITEMS = 10
ITEM_LIMIT = 128


def _fit(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", "ignore") + "…"


def _listed(reply: Reply) -> str:
    """Choices written out, for a reply whose choices cannot be a menu."""
    lines = [f"{n}. {c.label}" for n, c in enumerate(reply.choices, 1)]
    return "\n".join([reply.text, *lines]) if reply.text else "\n".join(lines)


def text_message(text: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": text}}


def render(replies: Sequence[Reply], step: str | None, hint: str | None = None
           ) -> list[dict[str, Any]]:
    """The messages of one turn, in order (documents are sent apart by the channel)."""
    shown = [r for r in replies if r.text or r.choices]
    menu = next((r for r in reversed(shown) if 0 < len(r.choices) <= MENU_ITEMS), None)
    parts = []
    for reply in shown:
        if reply is menu:
            parts.append(reply.text)
        else:
            parts.append(_listed(reply) if reply.choices else reply.text)
    if hint:
        parts.append(hint)
    text = "\n\n".join(p.strip() for p in parts if p and p.strip())
    if menu is None:
        return [text_message(piece) for piece in split_text(text, TEXT_LIMIT)] if text else []
    pieces = split_text(text, TEXT_LIMIT) if text else []
    head = ""
    if pieces and len(pieces[-1].encode("utf-8")) <= HEAD_LIMIT:
        head = pieces.pop()
    elif pieces:  # the last piece is too long for a head: its end becomes the head
        *rest, head = split_text(pieces.pop(), HEAD_LIMIT)
        pieces += split_text("\n\n".join(rest), TEXT_LIMIT) if rest else []
    items = [{"type": "click", "click": {"id": menu_id(c.id, step),
                                         "content": _fit(c.label, ITEM_LIMIT)}}
             for c in menu.choices]
    messages = [text_message(piece) for piece in pieces]
    messages.append({"msgtype": "msgmenu",
                     "msgmenu": {"head_content": head, "list": items, "tail_content": ""}})
    return messages
