"""Locales and message catalogs.

Msgids are the English source strings. The ``.po`` catalogs under ``locales/`` are compiled in
memory when the bot starts, so a fresh checkout runs without a build step, and a missing catalog
stops start-up instead of silently speaking English to a Chinese merchant.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.engine.messages import Msg, Plural

SUPPORTED = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
DOMAIN = "messages"


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
        if isinstance(value, Msg):
            return self(locale, value)
        if isinstance(value, datetime.date):  # one date format per language
            return format_date(value, format="long", locale=locale)
        if hasattr(value, "format") and not isinstance(value, str):  # Money: 50 万美元
            return value.format(locale)
        return value

    def __call__(self, locale: str, message: Msg | str, **params: Any) -> str:
        """Translate ``message`` and fill in its parameters (themselves translated if ``Msg``)."""
        if isinstance(message, Plural):
            params = {**message.params, **params}
            text = self._translations[locale].ngettext(message.msgid, message.plural, message.n)
        elif isinstance(message, Msg):
            params = {**message.params, **params}
            text = self.gettext(locale, message.msgid)
        else:
            text = self.gettext(locale, message)
        if not params:
            return text
        # Amounts, dates and lists follow the language the sentence is in: a message with no
        # translation yet falls back to English, and so do its values.
        msgid = message.msgid if isinstance(message, Msg) else message
        said_in = locale if locale == "en" or self.has(locale, msgid) else "en"
        values = {k: self._value(said_in, v) for k, v in params.items()}
        return text.format_map(values)
