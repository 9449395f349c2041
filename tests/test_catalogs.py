"""Both catalogs are complete: every extracted message translated, nothing fuzzy, placeholders
the same in every language, and the catalogs up to date with the sources."""

import string

import pytest
import yaml
from babel.messages.pofile import read_po

from bot.content import DIALOGS, LOCALES
from bot.i18n import SUPPORTED, negotiate
from bot.i18n_tools import build_template


def catalog(locale):
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def forms(text):
    """A message's text, or each form of a plural."""
    return text if isinstance(text, tuple) else (text,)


def placeholders(text):
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.fixture(scope="module")
def template():
    return build_template()


@pytest.mark.parametrize("locale", SUPPORTED)
def test_every_source_message_is_translated(template, locale):
    translated = {m.id: m for m in catalog(locale) if m.id}
    problems = []
    for message in template:
        if not message.id:
            continue
        entry = translated.get(message.id)
        if entry is None:
            problems.append(f"missing: {message.id!r}")
        elif not all(form.strip() for form in forms(entry.string)):
            problems.append(f"empty: {message.id!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    assert not problems, f"{locale}: {len(problems)} problems, e.g.\n" + "\n".join(problems[:20])


@pytest.mark.parametrize("locale", SUPPORTED)
def test_placeholders_match_the_source(locale):
    # A plural's forms together use the placeholders of its singular and plural msgids (one
    # Chinese form stands for both).
    wrong = [
        (m.id, m.string) for m in catalog(locale)
        if m.id and m.string and set().union(*map(placeholders, forms(m.id)))
        != set().union(*map(placeholders, forms(m.string)))
    ]
    assert not wrong, wrong[:10]


def test_no_fuzzy_flag_anywhere():
    for locale in SUPPORTED:
        text = (LOCALES / locale / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
        assert "#, fuzzy" not in text, locale


def test_chinese_catalog_is_really_chinese():
    # a msgstr copied from the English msgid would pass the completeness checks
    # (names the glossary keeps the same in both languages, such as TÜV Rheinland, excepted)
    names = {t["en"] for t in yaml.safe_load((DIALOGS / "glossary.yaml").read_text(
        encoding="utf-8"))["terms"] if t["en"] == t["zh"]}
    copied = [m.id for m in catalog("zh_CN")
              if m.id and m.string == m.id and any(c.isalpha() and c.isascii() for c in m.id)
              and len(m.id) > 12 and m.id not in names]
    assert not copied, copied[:10]


@pytest.mark.parametrize("tag", ["zh", "zh-CN", "zh_CN", "zh-Hans", "zh-hans", "zh-TW", "ZH"])
def test_every_chinese_tag_selects_chinese(tag):
    assert negotiate(tag) == "zh_CN"


@pytest.mark.parametrize("tag", ["en", "en-US", "en_GB"])
def test_english_tags_select_english(tag):
    assert negotiate(tag) == "en"


def test_unknown_tags_fall_back_to_the_default():
    assert negotiate("fr", default="zh_CN") == "zh_CN"
    assert negotiate(None, default="en") == "en"
