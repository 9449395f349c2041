"""A merchant talking to the pure engine, turn by turn: ``talk("text")``, ``talk(Choose(id))``."""

from __future__ import annotations

from datetime import date

from bot.engine.messages import Msg
from bot.engine.model import Hello, State, Text

TODAY = date(2026, 11, 29)


class Talk:
    def __init__(self, guide, locale: str = "en", today: date = TODAY) -> None:
        self.guide = guide
        self.today = today
        self.state = State(locale)
        self.out = guide.handle(self.state, Hello(), today)
        self.state = self.out.state

    def __call__(self, event):
        if isinstance(event, str):
            event = Text(event)
        self.before = self.state
        self.out = self.guide.handle(self.state, event, self.today)
        self.state = self.out.state
        return self.out

    def t(self, message: Msg) -> str:
        return self.guide.render.text(self.state.locale, message)

    @property
    def step(self) -> str | None:
        return self.out.expects.step

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.out.replies)

    @property
    def choices(self) -> list[str]:
        return [c.id for r in self.out.replies for c in r.choices]
