"""Where a merchant is and what they reported, by the names people read: a flow's title and a
step's label for ``flow``/``step`` ids, a certification and its review status for ``basic`` /
``in_review``. The console and the staff alerts both speak this way, never in ids."""

from __future__ import annotations

from bot.engine.machine import Guide
from bot.engine.messages import Msg
from bot.engine.render import CERT_NAMES, STATUS_NAMES

MENU = "menu"
# what milestones and reminders are about: the certifications, and the license and the visit
SUBJECTS = {**CERT_NAMES, "license": Msg("business license"),
            "inspection": Msg("on-site inspection")}


def step_title(guide: Guide, locale: str, step) -> str:
    """A step's short name: its label, else the first line of its question, else its id."""
    label = step.files.label if step.kind == "files" and step.files else step.label
    if label:
        return guide.render.text(locale, label)
    if step.text:
        first = guide.render.text(locale, step.text).strip().splitlines()[0]
        return first if len(first) <= 60 else first[:59] + "…"
    return step.id


def place(guide: Guide, locale: str, flow_id: str | None,
          step_id: str | None) -> tuple[str, str]:
    """(the flow's title, the step's name); empty for the main menu or an unknown id."""
    flow = guide.flows.get(flow_id or "")
    if flow is None or flow.id == MENU:
        return "", ""
    step = flow.steps.get(step_id or "")
    return (guide.render.text(locale, flow.title),
            step_title(guide, locale, step) if step is not None else "")


REASON_ANSWER = "status_reason"  # the answer a rejection's reason is recorded under


def review(guide: Guide, locale: str, kind: str, status: str) -> tuple[str, str]:
    """(the certification's name, its review status's name) in ``locale``."""
    t = guide.render.text
    name = subject(guide, locale, kind)
    shown = t(locale, STATUS_NAMES[status]) if status in STATUS_NAMES else status
    return name, shown


def reason(guide: Guide, locale: str, reason_id: str | None) -> str:
    """A rejection's reason by the label of the option the merchant chose."""
    if not reason_id:
        return ""
    for flow in guide.flows.values():
        for step in flow.steps.values():
            if step.answer == REASON_ANSWER and step.options:
                option = step.option(reason_id)
                if option is not None:
                    return guide.render.label(locale, option)
    return reason_id


def subject(guide: Guide, locale: str, subject_id: str) -> str:
    """A milestone's or reminder's subject (``basic``, ``license``...) by its name."""
    found = SUBJECTS.get(subject_id)
    return guide.render.text(locale, found) if found is not None else subject_id
