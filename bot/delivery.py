"""What every channel offers for messages the bot sends on its own (reminders).

A channel answers incoming messages itself; to reach a merchant unprompted, the reminder worker
calls the channel's ``Sender``. The registry (channel name -> Sender) is built in ``bot.app``.
Defined here, below the channels and the reminders, so that both depend on it and neither on
the other.
"""

from __future__ import annotations

from typing import Protocol

from bot.engine.model import Reply


class DeliveryError(Exception):
    """A send failed. ``permanent``: retrying cannot help (the merchant blocked the bot, the
    account is gone); otherwise the worker retries with backoff, a bounded number of times."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    """Delivers replies to one merchant of a channel, addressed by ``Merchant.user_key``.

    A reply's choices carry stable ids (``rem:12:done``); a channel with buttons sends them as
    buttons whose press comes back as ``Choose(id)``. A channel without buttons sets the class
    attribute ``buttons = False``: the worker then sends no choices and names the typed commands
    instead. ``send`` returns once the channel accepted the message, raises ``DeliveryError``
    when it did not, and must not take longer than a few seconds (the worker bounds it).
    """

    async def send(self, user_key: str, replies: list[Reply]) -> None: ...
