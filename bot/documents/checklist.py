"""The checklist that goes with the package, in the merchant's language.

``checklist_context`` gathers, for every certification the merchant has started (basic always):
each file the flow asks for, present or missing, under the name it has in the ZIP; where in the
backend it is uploaded; the answers as the forms want them (ID numbers masked); the figures the
merchant reported; and what must be fixed before submitting (an expired or expiring license,
the company name written in two forms). ``dialogs/templates/checklist.j2`` renders it as text
for the chat, and the same text becomes the printable PDF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.engine.consistency import (
    company_keys,
    company_places,
    license_validity,
    name_notes,
    validity_note,
)
from bot.engine.machine import Guide
from bot.engine.messages import Msg
from bot.engine.model import DocumentRef, Flow, State

TEMPLATE = "checklist.j2"
FIGURE_VALIDATORS = ("money", "percent", "rating")
ALWAYS = ("basic",)  # the foundation of every other certification


@dataclass(frozen=True)
class Item:
    label: str
    status: str  # present | missing | optional
    files: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    title: str
    path: str  # where the files are uploaded, as a breadcrumb of backend labels
    items: tuple[Item, ...]
    answers: tuple[tuple[str, str], ...]  # (label, value as shown) of text answers


def _started(flow: Flow, state: State) -> bool:
    if flow.id in ALWAYS or state.flow == flow.id:
        return True
    categories = {s.files.category for s in flow.steps.values() if s.files}
    keys = {s.answer_key(flow.id) for s in flow.questions() if s.kind == "text"}
    return any(d.category in categories for d in state.documents) or bool(
        keys & set(state.answers))


def _upload_path(flow: Flow) -> tuple[str, ...]:
    """The deepest menu path of the flow: the page its files are uploaded on."""
    paths = [s.menu_path for s in flow.steps.values() if s.menu_path]
    return max(paths, key=len, default=())


def checklist_context(guide: Guide, state: State, names: Mapping[int, str],
                      today: date, *, company: str | None = None) -> dict[str, Any]:
    """``names``: index in ``state.documents`` -> name in the ZIP, for files on disk."""
    render, loc = guide.render, state.locale

    def t(message: Msg | str) -> str:
        return render.text(loc, message)

    sections, figures = [], []
    missing_required = 0
    for flow in guide.flows.values():
        files_steps = [s for s in flow.questions() if s.kind == "files"]
        if not files_steps or not _started(flow, state):
            continue
        items = []
        for step in files_steps:
            spec = step.files
            got = tuple(names[i] for i, d in enumerate(state.documents)
                        if d.category == spec.category and i in names)
            status = "present" if got else ("missing" if spec.min_files else "optional")
            missing_required += status == "missing"
            items.append(Item(t(spec.label), status, got))
        answers = []
        for step in flow.questions():
            if step.kind != "text" or step.answer_key(flow.id) not in state.answers:
                continue
            value = render.answer_text(state, flow, step)
            if step.validator in FIGURE_VALIDATORS:
                figures.append((t(step.label), value))
            else:
                answers.append((t(step.label), value))
        sections.append(Section(t(flow.title), render.breadcrumb(loc, _upload_path(flow)),
                                tuple(items), tuple(answers)))
    notes = _notes(guide, state, today)
    return {
        "company": company or state.answers.get("company_name") or "",
        "today": today.isoformat(),
        "sections": sections,
        "figures": figures,
        "blockers": [t(m) for m in notes[0]],
        "warnings": [t(m) for m in notes[1]],
        "missing": missing_required,
        "list_separator": "、" if loc.startswith("zh") else ", ",  # as in ``Listing``
    }


def _notes(guide: Guide, state: State, today: date) -> tuple[list[Msg], list[Msg]]:
    """(blockers, warnings): what stops a submission, and what a reviewer may object to."""
    blockers: list[Msg] = []
    warnings: list[Msg] = []
    validity = license_validity(state.answers, today)
    note = validity_note(validity)
    if note is not None:
        (blockers if validity.status == "expired" else warnings).append(note)
    places = company_places(state.answers, company_keys(guide.flows),
                            [d.name for d in state.documents])
    warnings += name_notes(places)
    return blockers, warnings


def render_checklist(guide: Guide, state: State, names: Mapping[int, str],
                     today: date) -> str:
    context = checklist_context(guide, state, names, today)
    env = guide.render.templates[state.locale]
    return env.get_template(TEMPLATE).render(context).strip()


def names_by_index(documents: Sequence[DocumentRef], entries: Sequence[Any]) -> dict[int, str]:
    """Match package entries (in the rows' order) to positions in ``state.documents``."""
    return {i: e.name for i, e in enumerate(entries)
            if i < len(documents) and e.path is not None}
