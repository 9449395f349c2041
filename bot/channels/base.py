"""What every channel offers for messages the bot sends on its own: ``bot.delivery``."""

from bot.delivery import DeliveryError, Sender

__all__ = ["DeliveryError", "Sender"]
