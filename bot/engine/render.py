"""Turning steps and state into text: prompts, progress, breadcrumbs, /status, summaries.

Rendering is apart from deciding (``machine.py``) and from sending (the channels).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Environment

from bot.engine.files import Listing, describe_accept, human_size
from bot.engine.messages import N_, Msg
from bot.engine.model import Choice, Flow, Option, Reply, State, Step
from bot.engine.progress import ahead_steps, asked, progress
from bot.engine.rules import RULES, export_in_usd
from bot.engine.validators import VALIDATORS, Money, date_example
from bot.i18n import SUPPORTED, Translator

BREADCRUMB = " › "
KEEP = Option("keep", N_("Keep"), None)
CHANGE = Option("change", N_("Change"), None)
REPLACE = Option("change", N_("Replace"), None)
DONE = Option("done", N_("Done"), None)


class Renderer:
    def __init__(
        self,
        translator: Translator,
        templates: Mapping[str, Environment],
        figures: Mapping[str, str],
    ) -> None:
        self.translator = translator
        self.templates = dict(templates)
        self.figures = dict(figures)
        # What texts see: amounts written in the merchant's locale (50 万美元 / USD 500,000).
        self.params: dict[str, Any] = dict(figures)
        if "sm_export_usd" in figures:
            self.params["sm_export_usd"] = Money(figures["sm_export_usd"], "USD")
        self._static: dict[tuple[str, str], str] = {}
        self._labels: dict[tuple[str, str], str] = {}
        # Per step, what reads the same on every visit (its text, breadcrumb, hints, buttons):
        # kept with the step itself, so an id is never mistaken for another step's.
        self._steps: dict[tuple[Any, str, int], tuple[Step, Any]] = {}
        self._counters: dict[tuple[str, str, int, int | None], str] = {}

    # -- plain text ----------------------------------------------------------------------
    def text(self, locale: str, message: Msg | str) -> str:
        # A message without parameters of its own reads the same every time (the figures
        # and catalogs are fixed once loaded): translated once per locale.
        static = type(message) is str or (type(message) is Msg and not message.params)
        if not static:
            return self.translator.render(locale, message, self.params)
        key = (locale, message if type(message) is str else message.msgid)
        found = self._static.get(key)
        if found is None:
            found = self._static[key] = self.translator.render(locale, message, self.params)
        return found

    def label(self, locale: str, option: Option) -> str:
        key = (locale, option.label)
        found = self._labels.get(key)
        if found is None:
            found = self._labels[key] = self.translator(locale, option.label)
        return found

    def breadcrumb(self, locale: str, path: Iterable[str]) -> str:
        return BREADCRUMB.join(self.translator(locale, label) for label in path)

    def uses_figures(self, step: Step) -> bool:
        return bool(step.text) and not _placeholders(step.text).isdisjoint(self.figures)

    def _body(self, locale: str, step: Step, figures_note: bool = True) -> list[str]:
        return list(self._per_step(("body", figures_note), locale, step,
                                   lambda: self._new_body(locale, step, figures_note)))

    def _per_step(self, what: Any, locale: str, step: Step, make: Callable[[], Any]) -> Any:
        key = (what, locale, id(step))
        found = self._steps.get(key)
        if found is None or found[0] is not step:
            found = self._steps[key] = (step, make())
        return found[1]

    def _new_body(self, locale: str, step: Step, figures_note: bool) -> list[str]:
        parts = [self.text(locale, step.text)] if step.text else []
        if step.menu_path:
            parts.append(self.text(locale, Msg("Where: {path}",
                                               path=self.breadcrumb(locale, step.menu_path))))
        if figures_note and self.uses_figures(step):
            parts.append(self.text(locale, Msg(
                "Figures are typical values, last reviewed {reviewed}; the page in your "
                "backend is authoritative.")))
        return parts

    def info(self, locale: str, step: Step, figures_note: bool = True) -> Reply:
        return Reply("\n\n".join(self._body(locale, step, figures_note)))

    # -- questions -----------------------------------------------------------------------
    def question(self, state: State, flow: Flow, step: Step, today: date | None = None, *,
                 figures_note: bool = True) -> Reply:
        loc = state.locale
        parts = []
        if flow.id != "menu":
            counter = self.counter(state, flow, step)
            if counter:
                parts.append(counter)
        parts += self._body(loc, step, figures_note)
        if step.kind == "text":
            validator = VALIDATORS[step.validator]
            if validator.when and today:
                parts.append(self._example(loc, date_example(validator.when, today)))
            else:
                parts.append(self._per_step("example", loc, step,
                                            lambda: self._example(loc, validator.example)))
        elif step.kind == "files":
            spec = step.files
            have = sum(1 for d in state.documents if d.category == spec.category)
            parts.append(self._per_step("accepted", loc, step, lambda: self.text(loc, Msg(
                "Accepted: {accepted}, up to {limit} a file.",
                accepted=describe_accept(spec.rule.accept),
                limit=human_size(spec.rule.max_bytes)))))
            if spec.max_files > 1:
                parts.append(self.text(loc, Msg(
                    "Send them one by one or several at once, at most {max}; received so far: "
                    "{have}. Choose Done when you have sent them all.",
                    max=spec.max_files, have=have)))
            if spec.min_files == 0:
                parts.append(self.text(loc, Msg("This one is optional: choose Done to skip.")))
        pending = state.pending
        if pending.get("offer"):
            value = self.answer_text(state, flow, step)
            intro = (Msg("Your previous answer: {value}", value=value) if pending.get("back")
                     else Msg("We already have: {value}", value=value))
            parts.append(self.text(loc, intro))
            parts.append(self.text(loc, Msg("Keep it, or change it?")))
        elif pending.get("back") and step.kind == "choice":
            value = self.answer_text(state, flow, step)
            if value:
                parts.append(self.text(loc, Msg("Your previous answer: {value}", value=value)))
        return Reply("\n\n".join(parts), self.question_choices(state, step))

    def _example(self, locale: str, example: str) -> str:
        return self.text(locale, Msg("Example: {example}", example=example))

    def counter(self, state: State, flow: Flow, step: Step) -> str:
        """"Basic certification · question 3 of 9", true for this merchant's path."""
        where = progress(state, flow, step)
        if not where.shown:
            return ""
        key = (state.locale, flow.title, where.k, where.n)  # a few dozen per flow
        found = self._counters.get(key)
        if found is None:
            found = self._counters[key] = self._counter(state.locale, flow, where.k, where.n)
        return found

    def _counter(self, locale: str, flow: Flow, k: int, n: int | None) -> str:
        if n is None:
            return self.text(locale, Msg("{flow} · question {k}", flow=Msg(flow.title), k=k))
        return self.text(locale, Msg("{flow} · question {k} of {n}", flow=Msg(flow.title), k=k,
                                     n=n))

    def field_name(self, locale: str, step: Step) -> str:
        """The short name /status gives an answer; empty for a question that only routes."""
        msgid = step.files.label if step.kind == "files" else step.label
        return self.text(locale, msgid) if msgid else ""

    def question_options(self, state: State, step: Step) -> list[Option]:
        """The choices a question offers now (buttons, or numbers where there are none)."""
        if state.pending.get("offer"):
            return list(self.offer_options(step))
        if step.kind == "choice":
            return list(step.options)
        if step.kind == "files" and (step.files.max_files > 1 or step.files.min_files == 0):
            return [DONE]
        return []

    def question_choices(self, state: State, step: Step) -> tuple[Choice, ...]:
        """``question_options`` as buttons in the merchant's locale."""
        if state.pending.get("offer"):
            return self.choices(state.locale, self.offer_options(step))
        return self._per_step("choices", state.locale, step, lambda: self.choices(
            state.locale, self.question_options(state, step)))

    def offer_options(self, step: Step) -> tuple[Option, ...]:
        return (KEEP, REPLACE if step.kind == "files" else CHANGE)

    def choices(self, locale: str, options: Iterable[Option]) -> tuple[Choice, ...]:
        return tuple(Choice(o.id, self.label(locale, o)) for o in options)

    def match(self, locale: str, options: Iterable[Option], text: str) -> str | None:
        """The option a typed answer means: its number, its id or its label in any language."""
        options = list(options)
        wanted = text.strip().rstrip(".。").casefold()
        if wanted.isdigit() and 1 <= int(wanted) <= len(options):
            return options[int(wanted) - 1].id
        for option in options:
            labels = {self.label(loc, option).casefold() for loc in SUPPORTED}
            if wanted == option.id.casefold() or wanted in labels:
                return option.id
        return None

    # -- answers as text -----------------------------------------------------------------
    def answer_text(self, state: State, flow: Flow, step: Step) -> str:
        loc = state.locale
        if step.kind == "files":
            docs = [d for d in state.documents if d.category == step.files.category]
            return Listing(self.file_text(loc, d) for d in docs).format(loc) if docs else ""
        value = state.answers.get(step.answer_key(flow.id))
        if value is None:
            return ""
        if step.kind == "text":
            shown = VALIDATORS[step.validator].display(value, loc)
            usd = export_in_usd(value, self.figures) if step.validator == "money" else None
            if usd is not None and value.get("currency") != "USD":
                return self.text(loc, Msg("{amount} (about {usd})", amount=shown,
                                          usd=Money(usd.quantize(Decimal(1)), "USD")))
            return shown
        option = step.option(str(value))
        return self.label(loc, option) if option else str(value)

    def file_text(self, locale: str, doc: Any) -> str:
        """"营业执照.png（1.2 MB）": full-width brackets in Chinese."""
        return self.text(locale, Msg("{name} ({size})", name=doc.name, size=human_size(doc.size)))

    def shown_answers(self, state: State, flows: Mapping[str, Flow]) -> dict[str, str]:
        """Every answer, formatted for the merchant's locale; ID numbers masked."""
        shown: dict[str, str] = {}
        for flow in flows.values():
            for step in flow.questions():
                if step.kind != "files" and step.answer_key(flow.id) in state.answers:
                    shown[step.answer_key(flow.id)] = self.answer_text(state, flow, step)
        return shown

    # -- /status -------------------------------------------------------------------------
    def status(self, state: State, flows: Mapping[str, Flow]) -> Reply:
        loc = state.locale
        flow = flows.get(state.flow or "")
        if flow is None or flow.id == "menu" or state.step not in flow.steps:
            parts = [self.text(loc, Msg("You are at the main menu; no process is under way."))]
        else:
            step = flow.steps[state.step]
            title = self.text(loc, Msg(flow.title))
            parts = [self.counter(state, flow, step) or title] if step.is_question else [title]
            ahead = {q.id for q in ahead_steps(flow, step.id)}
            this_visit = set(asked(state, flow))
            done: dict[str, str] = {}
            missing: list[str] = []
            for q in flow.questions():
                name = self.field_name(loc, q)
                if not name or name in done or name in missing:
                    continue  # two questions can fill one answer (the date of a status)
                value = self.answer_text(state, flow, q)
                if q.kind == "choice" and q.id not in this_visit:
                    value = ""  # choices are asked afresh each visit; typed answers are kept
                if value:
                    done[name] = value
                elif q.id in ahead or q.id in this_visit:  # ahead, or its file went
                    missing.append(name)
            if done:
                parts.append(self.text(loc, Msg("Collected:")) + "\n" + "\n".join(
                    "• " + self.text(loc, Msg("{label}: {value}", label=name, value=value))
                    for name, value in done.items()))
            if missing:
                parts.append(self.text(loc, Msg("Still missing:")) + "\n" + "\n".join(
                    f"• {name}" for name in missing))
        if state.certifications:
            lines = [
                "• " + self.text(loc, Msg("{label}: {value}",
                                          label=CERT_NAMES.get(kind, kind),
                                          value=STATUS_NAMES.get(c["status"], c["status"])))
                for kind, c in state.certifications.items()
            ]
            parts.append(self.text(loc, Msg("Review status you reported:")) + "\n"
                         + "\n".join(lines))
        return Reply("\n\n".join(parts))

    # -- summaries -----------------------------------------------------------------------
    def summary(
        self, state: State, step: Step, today: date, flows: Mapping[str, Flow]
    ) -> Reply:
        env = self.templates[state.locale]
        checks = {name: rule(state, self.figures) for name, (_, rule) in RULES.items()}
        context: dict[str, Any] = {
            "answers": state.answers,
            "shown": self.shown_answers(state, flows),
            "doc_label": {
                s.files.category: self.text(state.locale, s.files.label)
                for f in flows.values() for s in f.steps.values() if s.files
            },
            "documents": state.documents,
            "certifications": state.certifications,
            "figures": self.figures,
            "checks": checks,
            "today": today,
            "t": lambda message: self.text(state.locale, message),
            "size": human_size,
            "file": lambda doc: self.file_text(state.locale, doc),
            "listing": lambda items: Listing(items).format(state.locale),
        }
        return Reply(env.get_template(step.template).render(context).strip())


CERT_NAMES = {
    "basic": Msg("Basic certification"),
    "factory": Msg("Factory certification"),
    "trade": Msg("Trade capability certification"),
    "strength_merchant": Msg("Strength Merchant"),
}
STATUS_NAMES = {
    "pending": Msg("待审核 (waiting for review)"),
    "in_review": Msg("审核中 (in review)"),
    "passed": Msg("通过 (passed)"),
    "rejected": Msg("未通过 (rejected)"),
    "needs_more": Msg("需补充材料 (more material needed)"),
}


@lru_cache(maxsize=1024)  # msgids: a fixed set, asked on every turn
def _placeholders(text: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)
