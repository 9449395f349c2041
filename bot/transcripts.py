"""Transcripts a person can read: every flow walked with scripted answers, in both languages.

``python -m bot transcripts`` writes ``docs/transcripts/<flow>.<locale>.md``; a test fails when
they differ from what the guide says now, so every content change shows up as a readable diff
of what merchants see. The same scripted merchant drives the tests that walk every flow.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

from bot.engine.machine import Guide
from bot.engine.model import Choose, Event, Hello, Outcome, State, Step, Text, Upload

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "docs" / "transcripts"
TODAY = date(2026, 11, 30)  # a fixed day, so the transcripts do not change with the calendar

# The option a scripted merchant picks where the first one is not the interesting path.
# A list: the options picked on successive visits of a page that comes back (the FAQ).
SCRIPTS: dict[str, dict[str, str | list[str]]] = {
    "basic": {},
    "factory": {"inspection_body": "sgs", "has_date": "yes"},
    "trade": {"what_next": "continue"},
    "strength": {"basic": "passed", "deep": "factory", "membership": "gold",
                 "apply_now": "apply", "after_gaps": "apply"},
    "status": {"cert": "basic", "value": "passed"},
    "renewal": {"what": "both", "license_known": "enter"},
    "faq": {"ask": ["rejected", "badge", "fees", "menu"]},
}
MENU_CHOICE = {"basic": "basic", "factory": "factory", "trade": "trade", "strength": "strength",
               "status": "status", "renewal": "renewal", "faq": "faq"}

# Typed answers by answer key, then by validator.
TEXT_BY_KEY = {
    "license_end_date": lambda today: (today + timedelta(days=800)).isoformat(),
    "inspection_date": lambda today: (today + timedelta(days=12)).isoformat(),
}
TEXT_BY_VALIDATOR = {
    "company_name": "宁波海岸贸易有限公司",
    "person_name": "张伟",
    "uscc": "91330106MA2B3C4D5D",
    "id_number": "11010519491231002X",
    "email": "sales@example.com",
    "phone": "+86 138 0013 8000",
    "money": "USD 800,000",
    "percent": "93%",
    "rating": "4.7",
}


def past_date(today: date) -> str:
    return (today - timedelta(days=10)).isoformat()


def typed_answer(step: Step, today: date) -> str:
    key = step.answer or ""
    if key in TEXT_BY_KEY:
        return TEXT_BY_KEY[key](today)
    if step.validator in TEXT_BY_VALIDATOR:
        return TEXT_BY_VALIDATOR[step.validator]
    return past_date(today)  # the dates something happened on


def sample_file(extension: str, seed: int) -> bytes:
    """A picture of a real-looking site or page (noise and shapes, so each one differs), or a
    one-page PDF."""
    if extension == "pdf":
        from pypdf import PdfWriter

        writer = PdfWriter()
        writer.add_blank_page(595, 842)
        writer.add_metadata({"/Title": f"sample {seed}"})
        buffer = io.BytesIO()
        writer.write(buffer)
        return buffer.getvalue()
    rng = random.Random(seed)
    grain = Image.frombytes("L", (300, 225), rng.randbytes(300 * 225))
    image = grain.resize((1200, 900)).convert("RGB")  # seeded, so every run sends the same bytes
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(1100), rng.randrange(800)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle((x, y, x + rng.randrange(40, 300), y + rng.randrange(40, 300)),
                       fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG" if extension == "png" else "JPEG", quality=85)
    return buffer.getvalue()


@dataclass
class Turn:
    said: str  # what the merchant did, as a person would describe it
    outcome: Outcome


class Merchant:
    """A scripted merchant: answers each question of a flow the way ``SCRIPTS`` says."""

    def __init__(self, guide: Guide, locale: str, today: date = TODAY) -> None:
        self.guide, self.today = guide, today
        self.state = State(locale)
        self.seed = 0
        self.last: Outcome | None = None
        self.visits: dict[str, int] = {}

    def send(self, event: Event, said: str) -> Turn:
        self.last = self.guide.handle(self.state, event, self.today)
        self.state = self.last.state
        return Turn(said, self.last)

    def current(self) -> Step | None:
        return self.guide.current_step(self.state)

    def answer(self, choose: dict[str, str]) -> Iterator[Turn]:
        """One or more turns answering the current question."""
        step = self.current()
        flow = self.state.flow
        expects = self.last.expects
        if self.state.pending.get("offer"):
            yield self.send(Choose("keep", expects.step), self.label(expects, "keep"))
        elif step.kind == "text":
            text = typed_answer(step, self.today)
            yield self.send(Text(text), text)
        elif step.kind == "choice":
            wanted = choose.get(step.id) or step.options[0].id
            if isinstance(wanted, list):
                visit = self.visits[step.id] = self.visits.get(step.id, -1) + 1
                wanted = wanted[min(visit, len(wanted) - 1)]
            yield self.send(Choose(wanted, expects.step), self.label(expects, wanted))
        else:
            spec = step.files
            for _ in range(max(1, spec.min_files)):
                self.seed += 1
                ext = spec.rule.accept[0]
                name = f"{spec.category}_{self.seed}.{ext}"
                turn = self.send(Upload(sample_file(ext, self.seed), name, step=expects.step),
                                 f"[{name}]")
                yield turn
            if self.state.flow == flow and self.state.step == step.id:
                yield self.send(Choose("done", self.last.expects.step),
                                self.label(self.last.expects, "done"))

    def label(self, expects, choice_id: str) -> str:
        for reply in self.last.replies:
            for choice in reply.choices:
                if choice.id == choice_id:
                    return f"[{choice.label}]"
        return f"[{choice_id}]"

    def walk(self, flow_id: str, *, status: bool = False) -> Iterator[Turn]:
        """Hello, the menu's choice for ``flow_id``, then every question until the flow ends;
        ``status``: /status before each answer."""
        yield self.send(Hello(), "(opens the chat)")
        yield self.send(Choose(MENU_CHOICE[flow_id]), self.label(self.last.expects,
                                                                 MENU_CHOICE[flow_id]))
        for _ in range(60):
            if self.state.flow != flow_id:
                return
            if status:
                yield self.send(Text("/status"), "/status")
            yield from self.answer(SCRIPTS[flow_id])
        raise RuntimeError(f"{flow_id}: the scripted merchant never reached the end")


def transcript(guide: Guide, flow_id: str, locale: str) -> str:
    merchant = Merchant(guide, locale)
    title = guide.render.text(locale, guide.flows[flow_id].title)
    lines = [f"# {title} ({locale})", "",
             "<!-- Written by `python -m bot transcripts` from scripted answers; do not edit. -->"]
    for turn in merchant.walk(flow_id):
        lines += ["", f"**→ {turn.said}**", ""]
        for reply in turn.outcome.replies:
            lines.append("> " + reply.text.replace("\n", "\n> ").replace("> \n", ">\n"))
            if reply.choices:
                lines.append(">\n> " + " ".join(f"`{c.label}`" for c in reply.choices))
            lines.append("")
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


def all_transcripts(guide: Guide) -> dict[Path, str]:
    from bot.i18n import SUPPORTED

    return {TRANSCRIPTS / f"{flow}.{locale}.md": transcript(guide, flow, locale)
            for flow in SCRIPTS for locale in SUPPORTED}


def write_transcripts(guide: Guide) -> list[Path]:
    TRANSCRIPTS.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in all_transcripts(guide).items():
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
