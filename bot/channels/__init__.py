"""Messaging channels the bot speaks through."""
