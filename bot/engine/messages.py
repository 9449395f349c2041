"""Messages that are translated late, in the merchant's locale.

Code that is pure (validators, the engine) cannot know which catalog to use, so it returns a
``Msg``: an English msgid plus named parameters. Babel's extractor picks ``Msg("...")`` up as a
keyword (see ``bot.i18n.extract``).
"""

from __future__ import annotations

from typing import Any


def N_(msgid: str) -> str:
    """Mark a msgid for extraction where it is translated later (button labels)."""
    return msgid


class Msg:
    """An untranslated message: ``Msg("Send {n} more", n=2)``."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, /, **params: Any) -> None:
        self.msgid = msgid
        self.params = params

    def __repr__(self) -> str:
        return f"Msg({self.msgid!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Msg) and other.msgid == self.msgid and other.params == self.params
        )

    __hash__ = None  # type: ignore[assignment]


class Plural(Msg):
    """A message whose wording depends on a number: ``ngettext("{n} file", "{n} files", n)``."""

    __slots__ = ("n", "plural")

    def __init__(self, singular: str, plural: str, n: int, /, **params: Any) -> None:
        super().__init__(singular, **params)
        self.plural, self.n = plural, n

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and isinstance(other, Plural) and other.n == self.n

    __hash__ = None  # type: ignore[assignment]


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> Plural:
    """Mark a plural message for extraction (Babel's ``ngettext`` keyword), translated late."""
    return Plural(singular, plural, n, **params)


class Invalid(Exception):
    """Input refused; ``message`` says what was wrong and what is accepted."""

    def __init__(self, message: Msg) -> None:
        super().__init__(message.msgid)
        self.message = message
