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
from bot.engine.model import Choice, Reply

TEXT_LIMIT = 2048
HEAD_LIMIT = 1024
MENU_ITEMS = 10
ITEM_LIMIT = 128


def _fit(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", "ignore") + "…"


def _listed(reply: Reply, numbered: bool) -> str:
    """Choices written out, for a reply whose choices are not in the menu. Only the current
    question's choices carry numbers (the engine's: a typed n is its n-th choice); an offer's
    choices are shown as words, to be clicked where the menu has room for them."""
    lines = [f"{n}. {c.label}" if numbered else f"• {c.label}"
             for n, c in enumerate(reply.choices, 1)]
    return "\n".join([reply.text, *lines]) if reply.text else "\n".join(lines)


def text_message(text: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": text}}


def render(replies: Sequence[Reply], step: str | None, hint: str | None = None,
           question: Sequence[Choice] = ()) -> list[dict[str, Any]]:
    """The messages of one turn, in order (documents are sent apart by the channel).
    ``question``: the current question's choices (``Expect.choices``); its reply's choices
    lead the menu, other offers' choices follow as click items while there is room."""
    shown = [r for r in replies if r.text or r.choices]
    asked = tuple(question)
    main = next((r for r in reversed(shown) if asked and r.choices == asked), None)
    in_menu: list[Reply] = []
    room = MENU_ITEMS
    for reply in ([main] if main else []) + [r for r in shown if r is not main]:
        if reply.choices and len(reply.choices) <= room:
            in_menu.append(reply)
            room -= len(reply.choices)
    parts = []
    for reply in shown:
        if reply in in_menu or not reply.choices:
            parts.append(reply.text)
        else:
            parts.append(_listed(reply, numbered=reply is main))
    if hint:
        parts.append(hint)
    text = "\n\n".join(p.strip() for p in parts if p and p.strip())
    if not in_menu:
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
             for reply in in_menu for c in reply.choices]
    messages = [text_message(piece) for piece in pieces]
    messages.append({"msgtype": "msgmenu",
                     "msgmenu": {"head_content": head, "list": items, "tail_content": ""}})
    return messages
