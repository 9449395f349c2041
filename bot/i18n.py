"""Locales and message catalogs.

Msgids are the English source strings. The ``.po`` catalogs under ``locales/`` are compiled in
memory when the bot starts, so a fresh checkout runs without a build step, and a missing catalog
stops start-up instead of silently speaking English to a Chinese merchant.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


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


SUPPORTED = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
DOMAIN = "messages"
_NO_DEFAULTS: Mapping[str, Any] = {}


@lru_cache(maxsize=512)  # every turn of a new merchant asks; Babel parses the tag each time
def negotiate(code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Map any language tag (``zh``, ``zh-hans``, ``zh-TW``, ``en-US``…) to a supported locale."""
    if not code:
        return default
    tag = code.strip().replace("-", "_")
    try:
        language = Locale.parse(tag).language
    except (UnknownLocaleError, ValueError, TypeError):
        language = tag.split("_", 1)[0].lower()
    if language == "zh":
        return "zh_CN"
    if language == "en":
        return "en"
    return default


def other_locale(locale: str) -> str:
    return "en" if locale == "zh_CN" else "zh_CN"


class Translator:
    """Translates ``Msg`` objects and msgids into one of the supported locales."""

    def __init__(
        self, translations: Mapping[str, Translations], known: Mapping[str, set[str]]
    ) -> None:
        self._translations = dict(translations)
        self._known = dict(known)  # msgids with a usable (non-empty, non-fuzzy) translation
        self._templates: dict[tuple[str, str], tuple[str, str]] = {}

    @classmethod
    def load(cls, locales_dir: Path) -> Translator:
        translations, known = {}, {}
        for locale in SUPPORTED:
            po_path = locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
            if not po_path.is_file():
                raise FileNotFoundError(f"missing message catalog: {po_path}")
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
            buffer.seek(0)
            translations[locale] = Translations(buffer, domain=DOMAIN)
            known[locale] = {  # a plural is known by its singular msgid
                m.id[0] if isinstance(m.id, tuple) else m.id
                for m in catalog if m.id and m.string and not m.fuzzy}
        return cls(translations, known)

    def has(self, locale: str, msgid: str) -> bool:
        return msgid in self._known[locale]

    def translations(self, locale: str) -> Translations:
        return self._translations[locale]

    def gettext(self, locale: str, msgid: str) -> str:
        return self._translations[locale].gettext(msgid)

    def _value(self, locale: str, value: Any) -> Any:
        if type(value) is str:
            return value
        if isinstance(value, Msg):
            return self(locale, value)
        if isinstance(value, datetime.date):  # one date format per language
            return format_date(value, format="long", locale=locale)
        if hasattr(value, "format") and not isinstance(value, str):  # Money: 50 万美元
            return value.format(locale)
        return value

    def __call__(self, locale: str, message: Msg | str, **params: Any) -> str:
        """Translate ``message`` and fill in its parameters (themselves translated if ``Msg``);
        ``params`` fill the placeholders the message's own leave open."""
        return self.render(locale, message, params)

    def render(self, locale: str, message: Msg | str,
               defaults: Mapping[str, Any] = _NO_DEFAULTS) -> str:
        """``self(locale, message, **defaults)`` without copying ``defaults`` (a renderer's
        figures) into every call: they are looked up when a placeholder asks."""
        if isinstance(message, Plural):
            text = self._translations[locale].ngettext(message.msgid, message.plural, message.n)
            said_in = self._said_in(locale, message.msgid)
        elif isinstance(message, Msg):
            text, said_in = self._template(locale, message.msgid)
        else:  # a plain str may be anything: not kept
            text, said_in = self.gettext(locale, message), self._said_in(locale, message)
        params = message.params if isinstance(message, Msg) else _NO_DEFAULTS
        if not params and not defaults:
            return text
        # Amounts, dates and lists follow the language the sentence is in: a message with no
        # translation yet falls back to English, and so do its values. Only the placeholders
        # the text holds are formatted: formatting an amount through Babel costs more than
        # the rest of a turn.
        return text.format_map(_Values(self, said_in, params, defaults))

    def _template(self, locale: str, msgid: str) -> tuple[str, str]:
        """The msgid's translation and the locale it is in, kept: the catalogs are fixed once
        loaded, and a turn translates a dozen messages."""
        found = self._templates.get((locale, msgid))
        if found is None:
            found = self._templates[(locale, msgid)] = (self.gettext(locale, msgid),
                                                        self._said_in(locale, msgid))
        return found

    def _said_in(self, locale: str, msgid: str) -> str:
        return locale if locale == "en" or self.has(locale, msgid) else "en"


class _Values:
    """A message's parameters (then the defaults), each translated or formatted when
    ``format_map`` asks for it."""

    __slots__ = ("_defaults", "_locale", "_params", "_translator")

    def __init__(self, translator: Translator, locale: str, params: Mapping[str, Any],
                 defaults: Mapping[str, Any]) -> None:
        self._translator, self._locale = translator, locale
        self._params, self._defaults = params, defaults

    def __getitem__(self, key: str) -> Any:
        params = self._params
        value = params[key] if key in params else self._defaults[key]
        return self._translator._value(self._locale, value)
