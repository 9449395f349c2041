"""Pure formatting for the console's pages: rows of merchants, transcript lines, the funnel.

Everything a page shows of a merchant passes through here, and ID card and passport numbers
are masked here: in answers by the renderer's own display (``answer_text``), in free text (what
a merchant typed, what the bot said) by pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.engine.machine import Guide
from bot.engine.model import DocumentRef, State
from bot.engine.validators import mask_id
from bot.places import MENU, place, reason, review, step_title
from bot.store.console import MerchantRecords, Passage

# 18-digit (or old 15-digit) resident ID numbers and passport numbers (1-2 letters, 7-8 digits)
_NUMBERS = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15}|[A-Za-z]{1,2}\d{7,8})(?![0-9A-Za-z])")


def mask_numbers(text: str) -> str:
    return _NUMBERS.sub(lambda m: mask_id(m.group(1)), text or "")


def state_of(records: MerchantRecords, unseal, locale: str) -> State:
    data = unseal(records.merchant.state or {})
    return State(
        locale=locale, flow=data.get("flow"), step=data.get("step"),
        answers=dict(data.get("answers") or {}), pending=dict(data.get("pending") or {}),
        documents=[DocumentRef(d.sha256, d.category, d.name, d.kind, d.size, d.phash)
                   for d in records.documents],
        certifications={c.kind: {"status": c.status, "reason": c.reason}
                        for c in records.certifications})


@dataclass(frozen=True)
class Review:
    """A certification's review as the operator reads it (``status``: the id, for styling)."""

    name: str
    shown: str
    status: str
    reason: str = ""  # a rejection's reason, by its label
    updated_at: datetime | None = None

    def __str__(self) -> str:
        return f"{self.name} · {self.shown}" + (f" ({self.reason})" if self.reason else "")


def reviews(guide: Guide, locale: str, certifications) -> list[Review]:
    return [Review(*review(guide, locale, c.kind, c.status), c.status,
                   reason(guide, locale, c.reason), c.updated_at) for c in certifications]


@dataclass
class MerchantRow:
    id: int
    company: str
    contact: str
    channel: str
    language: str
    flow: str
    step: str
    progress: str
    done: float  # 0..1
    last_activity: datetime
    reviews: list[Review]
    documents: int
    waiting: bool
    waiting_since: datetime | None
    answers: list[tuple[str, str]] = field(default_factory=list)


def merchant_row(guide: Guide, records: MerchantRecords, state: State) -> MerchantRow:
    t = guide.render.text
    loc = state.locale
    flow = guide.flows.get(state.flow or "")
    flow_name, step_name = place(guide, loc, state.flow, state.step)
    progress, done = "", 0.0
    if flow is not None and flow.id != MENU and state.step in flow.steps:
        step = flow.steps[state.step]
        questions = flow.questions()
        k = questions.index(step) + 1 if step in questions else len(questions)
        progress, done = f"{k}/{len(questions)}", k / max(1, len(questions))
    answers = []
    for f in guide.flows.values():
        if f.id == MENU:
            continue
        for q in f.questions():
            if q.kind == "files" or q.answer_key(f.id) not in state.answers:
                continue
            name = t(loc, q.label) if q.label else q.answer_key(f.id)
            answers.append((name, mask_numbers(guide.render.answer_text(state, f, q))))
    m = records.merchant
    return MerchantRow(
        id=m.id, company=mask_numbers(str(state.answers.get("company_name") or "")),
        contact=mask_numbers(str(state.answers.get("legal_rep_name") or "")),
        channel=m.channel, language=m.locale, flow=flow_name, step=step_name,
        progress=progress, done=done, last_activity=m.updated_at,
        reviews=reviews(guide, loc, records.certifications),
        documents=len(records.documents), waiting=records.handed_over,
        waiting_since=records.waiting_since, answers=answers)


@dataclass
class Line:
    at: datetime
    side: str  # merchant | bot | operator
    author: str
    texts: list[str]


def transcript_lines(turns: Iterable[Any], choice_label) -> list[Line]:
    """Each turn as the merchant's line (when they sent something) and the answer's line."""
    lines: list[Line] = []
    for turn in turns:
        incoming = turn.incoming or None
        if incoming:
            lines.append(Line(turn.created_at, "merchant", "", [_incoming_text(incoming,
                                                                                 choice_label)]))
        texts = [mask_numbers(r.get("text") or "") for r in turn.replies or []]
        texts += [f"📎 {r['document']['name']}" for r in turn.replies or []
                  if r.get("document")]
        if any(texts):
            author = turn.author or ""
            side = "operator" if author.startswith("operator:") else "bot"
            lines.append(Line(turn.sent_at or turn.created_at, side,
                              author.partition(":")[2], [t for t in texts if t]))
    return lines


def _incoming_text(incoming: Mapping[str, Any], choice_label) -> str:
    if "text" in incoming:
        return mask_numbers(str(incoming["text"]))
    if "choice" in incoming:
        return f"▸ {choice_label(str(incoming['choice']))}"
    if "files" in incoming:
        return "📎 " + ", ".join(map(str, incoming["files"]))
    return f"({incoming.get('event', '…')})"


@dataclass
class FunnelStep:
    id: str
    name: str
    reached: int
    stopped: int


def funnel(guide: Guide, locale: str, flow_id: str,
           passages: Iterable[Passage]) -> tuple[int, list[FunnelStep]]:
    """How many merchants reached each step of a flow in the period, and at which step each one
    was when the period ended (their last turn in it). Steps in the flow's own order."""
    flow = guide.flows[flow_id]
    reached: dict[str, set[int]] = {s: set() for s in flow.steps}
    last: dict[int, str] = {}
    for p in passages:
        if p.flow != flow_id or p.step not in reached:
            continue
        reached[p.step].add(p.merchant_id)
        last[p.merchant_id] = p.step
    stopped: dict[str, int] = {}
    for step in last.values():
        stopped[step] = stopped.get(step, 0) + 1
    rows = []
    for step in flow.steps.values():
        if not step.is_question and step.kind != "end" and not reached[step.id]:
            continue
        rows.append(FunnelStep(step.id, step_title(guide, locale, step),
                               len(reached[step.id]), stopped.get(step.id, 0)))
    return len(last), rows


@dataclass
class Bar:
    y: int
    name: str
    reached: int
    stopped: int
    width: float
    stopped_width: float


def chart(steps: list[FunnelStep], width: int = 320, bar: int = 18, gap: int = 8) -> dict:
    """Geometry of the funnel's SVG: one bar per step, the part that stopped there darker."""
    top = max([1, *(s.reached for s in steps)])
    bars = [Bar(i * (bar + gap), s.name, s.reached, s.stopped, width * s.reached / top,
                width * s.stopped / top) for i, s in enumerate(steps)]
    return {"bars": bars, "width": width, "bar": bar,
            "height": max(bar, len(steps) * (bar + gap))}
