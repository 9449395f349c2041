"""Messages that are translated late, in the merchant's locale.

Code that is pure (validators, the engine) cannot know which catalog to use, so it returns a
``Msg``: an English msgid plus named parameters. Babel's extractor picks ``Msg("...")`` up as a
keyword (see ``bot.i18n.extract``). ``Msg`` itself lives in ``bot.i18n``, the layer below, which
translates it; it is named here for the engine's modules.
"""

from __future__ import annotations

from bot.i18n import N_, Msg, Plural, ngettext

__all__ = ["N_", "Invalid", "Msg", "Plural", "ngettext"]


class Invalid(Exception):
    """Input refused; ``message`` says what was wrong and what is accepted."""

    def __init__(self, message: Msg) -> None:
        super().__init__(message.msgid)
        self.message = message
