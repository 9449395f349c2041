"""Keep the catalogs in step with the sources: ``python -m bot i18n``.

Extracts every user-visible string from the code (``Msg("...")``), the Jinja2 templates
(``{% trans %}``) and the flow files (texts, labels, options, menu paths), then updates
``locales/{en,zh_CN}/LC_MESSAGES/messages.po``. English msgids are their own English text; new
Chinese entries are left empty for a translator, and the catalog test fails until they are filled.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po, write_po

from bot.content import DIALOGS, LOCALES, ROOT
from bot.i18n import DOMAIN, SUPPORTED

KEYWORDS = {"Msg": None, "N_": None, "_": None, "gettext": None, "ngettext": (1, 2)}
FLOW_TEXT_KEYS = ("title", "text", "label")
HEADER = (
    "# Messages of the certification guide. Updated by `python -m bot i18n`;\n"
    "# translate empty msgstr entries, keep {placeholders} exactly as in the msgid."
)


def extract_flow(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, str, str, list]]:
    """Babel extractor for ``dialogs/*.yaml``: yields (line, funcname, message, comments)."""
    data = yaml.safe_load(fileobj.read().decode("utf-8")) or {}
    yield from _walk(data, [])


def _walk(node: Any, path: list[str]) -> Iterator[tuple[int, str, str, list]]:
    where = ".".join(path)
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FLOW_TEXT_KEYS and isinstance(value, str):
                yield 0, "", value, [f"{where}.{key}"]
            elif key == "menu_path" and isinstance(value, list):
                for label in value:
                    yield 0, "", str(label), [f"{where}: menu label, as the backend shows it"]
            else:
                yield from _walk(value, [*path, str(key)])
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, [*path, str(index)])


def build_template() -> Catalog:
    template = Catalog(domain=DOMAIN, project="alibaba-cert-guide")
    sources: list[tuple[Path, Any]] = []
    sources += [(p, "python") for p in sorted((ROOT / "bot").rglob("*.py"))]
    sources += [(p, "jinja2.ext:babel_extract") for p in sorted(DIALOGS.rglob("*.j2"))]
    sources += [(p, extract_flow) for p in sorted(DIALOGS.glob("*.yaml"))
                if p.name != "figures.yaml"]
    options = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
    for path, method in sources:
        with path.open("rb") as fh:
            for lineno, message, comments, context in extract(
                method, fh, keywords=KEYWORDS, options=options
            ):
                rel = path.relative_to(ROOT).as_posix()
                template.add(message, locations=[(rel, lineno)], auto_comments=comments,
                             context=context)
    return template


def update_catalogs() -> dict[str, int]:
    """Update both catalogs; returns how many entries each still lacks a translation for."""
    template = build_template()
    missing = {}
    for locale in SUPPORTED:
        path = LOCALES / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
        else:
            catalog = Catalog(locale=locale, domain=DOMAIN, project="alibaba-cert-guide")
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # the header is ours, not a guess
        catalog.header_comment = HEADER
        for message in catalog:
            if not message.id:
                continue
            if locale == "en" and not message.string:
                message.string = message.id
        missing[locale] = sum(1 for m in catalog if m.id and not m.string)
        write_if_changed(path, catalog)
    return missing


def write_if_changed(path: Path, catalog: Catalog) -> None:
    """Write the catalog only when a message changed, so that a run with nothing new leaves the
    tree as it was: the old POT-Creation-Date is kept unless the messages differ."""
    old = path.read_bytes() if path.exists() else None
    if old is not None:
        with path.open("rb") as fh:
            now, catalog.creation_date = catalog.creation_date, read_po(fh).creation_date
        if render(catalog) == old:
            return
        catalog.creation_date = now
    path.write_bytes(render(catalog))


def render(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    # no line numbers: moving code about is not a change of messages
    write_po(out, catalog, width=99, sort_output=False, omit_header=False, include_lineno=False)
    return out.getvalue()
