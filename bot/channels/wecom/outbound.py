"""Replies -> WeCom text. Pure formatters: no sending here.

WeCom text messages have no buttons, so choices are listed with numbers; the merchant answers
with the number or the label's words (the engine matches both, in either language).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.engine.messages import Msg
from bot.engine.model import Expect, Reply

IMAGE_KINDS = frozenset({"jpg", "png"})

Translate = Callable[[Msg], str]


def choice_lines(reply: Reply) -> list[str]:
    return [f"{number}. {choice.label}" for number, choice in enumerate(reply.choices, 1)]


def reply_text(reply: Reply) -> str:
    lines = choice_lines(reply)
    if not lines:
        return reply.text
    return (reply.text + "\n\n" if reply.text else "") + "\n".join(lines)


def upload_hint(expects: Expect, link: str, minutes: int, t: Translate) -> str:
    """How to hand over files in WeCom: pictures in the chat, anything else on the page."""
    if IMAGE_KINDS & set(expects.accept or ()):
        return t(Msg("You can send pictures right here in the chat. For other files (such as "
                     "PDF or Excel), or to keep a scan at full quality, use this one-time upload "
                     "page (valid for {minutes} minutes):\n{link}", minutes=minutes, link=link))
    return t(Msg("Files cannot be sent in this chat: please use this one-time upload page "
                 "(valid for {minutes} minutes):\n{link}", minutes=minutes, link=link))


def compose(replies: Sequence[Reply], hint: str | None = None) -> str:
    """One turn's replies as one text (the sender splits it under 2048 bytes): fewer messages
    keep the merchant under WeCom's 30-a-minute limit."""
    parts = [reply_text(r) for r in replies if r.text or r.choices]
    if hint:
        parts.append(hint)
    return "\n\n".join(p.strip() for p in parts if p.strip())
