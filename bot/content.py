"""Build the guide from the project's content: flows, figures, templates and catalogs.

This is the only place that reads ``dialogs/`` and ``locales/``; it runs once at start-up and
fails loudly, naming the file and step, when the content is inconsistent.
"""

from __future__ import annotations

from pathlib import Path

import yaml
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
FACTS = DIALOGS / "facts.yaml"


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


def load_facts(path: Path = FACTS) -> dict:
    """The project's fact list: ``facts`` (from the source guide) and ``guidance`` (beyond it)."""
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def known_facts(path: Path = FACTS) -> list[str]:
    """Ids of the platform facts (F-…), each of which a merchant must be able to reach."""
    return list(load_facts(path)["facts"])


def citable(path: Path = FACTS) -> list[str]:
    """Ids a step may cite: the facts, and the general guidance beyond the source (G-…)."""
    data = load_facts(path)
    return [*data["facts"], *data.get("guidance", {})]


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
        known_facts=citable(),
    )
    envs = {loc: template_env(translator, loc, templates_dir) for loc in SUPPORTED}
    return Guide(flows, Renderer(translator, envs, figures))
