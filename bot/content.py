"""Build the guide from the project's content: flows, figures, templates and catalogs.

This is the only place that reads ``dialogs/`` and ``locales/``; it runs once at start-up and
fails loudly, naming the file and step, when the content is inconsistent.
"""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.engine.loader import check_flows, load_figures, load_flows
from bot.engine.machine import Guide
from bot.engine.render import Renderer
from bot.engine.rules import EFFECTS, RULES
from bot.engine.validators import VALIDATORS
from bot.i18n import SUPPORTED, Translator

ROOT = Path(__file__).resolve().parent.parent
DIALOGS = ROOT / "dialogs"
LOCALES = ROOT / "locales"
DOMAIN_FACTS = ROOT.parent / "shared" / "docs" / "domain.md"
FACT_ID = re.compile(r"^- (F-[A-Z]+-\d+)\b", re.MULTILINE)


def template_env(translator: Translator, locale: str, directory: Path) -> Environment:
    """One Jinja2 environment per locale, its gettext bound to that locale's catalog."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html", "xml"]),  # text templates: plain text
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # as the extractor reads {% trans %} blocks
    env.install_gettext_translations(translator.translations(locale), newstyle=True)
    return env


def known_facts(path: Path = DOMAIN_FACTS) -> list[str] | None:
    """Fact ids of the domain document, when it is beside the checkout."""
    if not path.is_file():
        return None
    return FACT_ID.findall(path.read_text(encoding="utf-8"))


def load_guide(dialogs: Path = DIALOGS, locales: Path = LOCALES) -> Guide:
    translator = Translator.load(locales)
    figures = load_figures(dialogs / "figures.yaml")
    flows = load_flows(dialogs)
    templates_dir = dialogs / "templates"
    check_flows(
        flows,
        validators=VALIDATORS,
        rules={name: outcomes for name, (outcomes, _) in RULES.items()},
        effects=EFFECTS,
        templates=[p.name for p in templates_dir.glob("*.j2")],
        figures=figures,
        has_translation=translator.has,
        locales=SUPPORTED,
        known_facts=known_facts(),
    )
    envs = {loc: template_env(translator, loc, templates_dir) for loc in SUPPORTED}
    return Guide(flows, Renderer(translator, envs, figures))
