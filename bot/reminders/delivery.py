"""Senders the reminder worker delivers through, beside those of the messaging channels.

The console has no one to push a message to: in ``python -m bot remind --once`` the JSON line
the worker prints (with the text) is the delivery; inside ``python -m bot run`` the console
chat's terminal shows it.
"""

from __future__ import annotations

from typing import TextIO

from bot.engine.model import Reply


class ConsoleSender:
    """Writes the reminder into a terminal, or nowhere when the report line is the delivery.

    The interactive chat cannot press a reminder's buttons (``buttons=False``: the reminder
    names the typed ``/reminders`` commands instead); a program reading the JSON line can send
    a choice id back through ``python -m bot chat --json``.
    """

    def __init__(self, out: TextIO | None = None, *, buttons: bool = True) -> None:
        self.out = out
        self.buttons = buttons

    async def send(self, user_key: str, replies: list[Reply]) -> None:
        if self.out is None:
            return
        for reply in replies:
            self.out.write("\n" + reply.text + "\n")
            for choice in reply.choices:
                self.out.write(f"  ({choice.id}) {choice.label}\n")
        self.out.flush()


class FakeSender:
    """Records what it was asked to send; fails on demand. For tests and dry runs."""

    def __init__(self, *, buttons: bool = True, fail: list[Exception] | None = None) -> None:
        self.buttons = buttons
        self.fail = list(fail or [])
        self.sent: list[tuple[str, list[Reply]]] = []

    async def send(self, user_key: str, replies: list[Reply]) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((user_key, replies))
