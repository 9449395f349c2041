"""What every channel offers for messages the bot sends on its own: ``bot.delivery``."""

from __future__ import annotations

from bot.delivery import DeliveryError, Sender


class ChannelError(Exception):
    """A channel cannot serve (a refused token, another copy receiving its updates). The message
    is one plain sentence for the operator; ``python -m bot run`` prints it and exits non-zero."""


__all__ = ["ChannelError", "DeliveryError", "Sender"]
