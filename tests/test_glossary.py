"""One word for one thing: the catalogs use the glossary's term, never a second word for it."""

from pathlib import Path

import yaml
from babel.messages.pofile import read_po

from bot.content import DIALOGS, LOCALES

GLOSSARY = yaml.safe_load((DIALOGS / "glossary.yaml").read_text(encoding="utf-8"))["terms"]


def texts(locale: str) -> list[str]:
    path = Path(LOCALES) / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    out = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        out += [s for s in strings if s]
    return out


def test_the_catalogs_use_no_second_word_for_a_glossary_term():
    found = []
    for locale, key in (("zh_CN", "zh_not"), ("en", "en_not")):
        said = texts(locale)
        for term in GLOSSARY:
            for other in term.get(key, ()):
                found += [(locale, term[locale[:2]], other, s[:60]) for s in said
                          if other.casefold() in s.casefold()]
    assert not found, found


def test_every_glossary_term_is_in_use():
    for locale in ("zh_CN", "en"):
        said = "\n".join(texts(locale)).casefold()
        for term in GLOSSARY:
            assert term[locale[:2]].casefold() in said, (locale, term[locale[:2]])
