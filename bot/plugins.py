"""What a plugin (documents, reminders, handoff) gives the service: a small protocol.

A plugin subclasses ``Plugin`` and overrides what it needs; ``Service.install`` takes it.

- ``commands()``: ``/name`` handled outside the engine, each with its line of ``/help``;
- ``choices()``: handlers of ``Choose`` ids ``prefix:...`` (buttons the plugin sent);
- ``seal`` / ``unseal``: what goes into and comes out of ``merchants.state`` (e.g. ID numbers
  encrypted at rest); chained in installation order;
- ``on_turn(change)``: called after the engine, before the turn is queued, with the states
  before and after and the turn's effects. It may edit ``change.after`` (e.g. consume one-shot
  answers) and returns ``None`` when it has nothing to write (the usual case, so a turn stays
  one UPDATE and one INSERT), else an async function run in the turn's transaction, after the
  version-guarded write, with a ``Turn`` whose ``session`` writes through the ORM.

Handlers and writes run inside the turn's transaction: no commits of their own; file work to
do only once the turn is durable goes to ``Turn.after_commit``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.engine.messages import Msg
from bot.engine.model import Effect, Event, Reply, State

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.store.models import Merchant


@dataclass
class Turn:
    """A turn as a command handler or an on-turn write sees it, inside its transaction."""

    service: Any  # the ``bot.service.Service`` running the turn (above this module)
    session: AsyncSession
    merchant: Merchant
    state: State
    event: Event
    arg: str
    now: datetime
    effects: list[Effect] = field(default_factory=list)
    repeat: bool = True  # False: the handler's replies stand alone (no current question)
    _after: list[Callable[[], Any]] = field(default_factory=list, repr=False)

    def after_commit(self, action: Callable[[], Any]) -> None:
        """Run ``action`` (blocking file work, in a thread) once the turn has committed."""
        self._after.append(action)


# A handler returns replies; the service then repeats the current question. It may change
# ``turn.state`` (saved with the turn) and write rows through ``turn.session``.
Handler = Callable[[Turn], Awaitable[list[Reply]]]
Write = Callable[[Turn], Awaitable[None]]
# A route may take an event the engine would otherwise get (a merchant handed over to a person):
# given the merchant's id (None: new) and the event, a handler or None.
Route = Callable[[int | None, Event], Awaitable[Handler | None]]


@dataclass(frozen=True)
class Command:
    handler: Handler
    help: Msg | None = None  # its line in /help


@dataclass
class Change:
    """One turn's outcome, for ``Plugin.on_turn``: pure data, no database."""

    channel: str
    merchant_id: int | None  # None: a merchant not stored yet
    timezone: str
    before: State
    after: State
    effects: list[Effect]
    now: datetime
    user_key: str = ""


class Plugin:
    def commands(self) -> Mapping[str, Command]:
        return {}

    def choices(self) -> Mapping[str, Handler]:
        return {}

    def seal(self, data: dict) -> dict:
        return data

    def unseal(self, data: dict) -> dict:
        return data

    def on_turn(self, change: Change) -> Write | None:
        return None
