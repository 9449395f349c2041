"""Load flows from ``dialogs/*.yaml`` and check them before any merchant can reach a mistake.

Every problem is reported with the file and the step, e.g.
``dialogs/basic.yaml: step 'license': next step 'uplod' does not exist``.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.engine.files import KINDS, FileRule
from bot.engine.model import FLOW_PREFIX, STEP_KINDS, FileSpec, Flow, Option, Step

MB = 1024 * 1024


class FlowError(ValueError):
    """A flow file is wrong; the message names the file and the step."""


def load_figures(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if "reviewed" not in data:
        raise FlowError(f"{path}: figures need a 'reviewed' date")
    return {k: str(v) for k, v in data.items()}


NOT_FLOWS = frozenset({"figures.yaml", "facts.yaml", "glossary.yaml"})  # content beside the flows


def load_flows(directory: Path) -> dict[str, Flow]:
    flows: dict[str, Flow] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in NOT_FLOWS:
            continue
        flow = _parse_flow(path)
        if flow.id in flows:
            raise FlowError(f"{path}: flow id '{flow.id}' is also used by {flows[flow.id].source}")
        flows[flow.id] = flow
    return flows


def _parse_flow(path: Path) -> Flow:
    where = str(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), dict):
        raise FlowError(f"{where}: expected a mapping with 'id', 'title', 'start' and 'steps'")
    for key in ("id", "title", "start"):
        if not raw.get(key):
            raise FlowError(f"{where}: missing '{key}'")
    steps = {sid: _parse_step(where, str(sid), spec) for sid, spec in raw["steps"].items()}
    return Flow(
        id=raw["id"], title=raw["title"], start=raw["start"], steps=steps, source=where
    )


_STEP_KEYS = {
    "kind", "text", "label", "next", "facts", "menu_path", "validator", "answer", "options",
    "files",
    "rule", "cases", "template", "effect",
}
_FILE_KEYS = {"category", "label", "accept", "max_mb", "recommend_mb", "min", "max", "min_pixels"}


def _parse_step(where: str, sid: str, spec: Any) -> Step:
    def fail(problem: str) -> FlowError:
        return FlowError(f"{where}: step '{sid}': {problem}")

    if not isinstance(spec, dict):
        raise fail("expected a mapping")
    unknown = set(spec) - _STEP_KEYS
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}")
    kind = spec.get("kind")
    if kind not in STEP_KINDS:
        raise fail(f"unknown kind {kind!r}; expected one of {sorted(STEP_KINDS)}")
    options = []
    for o in spec.get("options", ()):
        if not isinstance(o.get("id"), str):  # YAML reads a bare yes/no as a boolean
            raise fail(f"option id {o.get('id')!r} must be a string (quote it)")
        options.append(Option(id=o["id"], label=o["label"], next=o.get("next")))
    files = None
    if kind == "files":
        fs = spec.get("files") or {}
        if set(fs) - _FILE_KEYS:
            raise fail(f"unknown file keys {sorted(set(fs) - _FILE_KEYS)}")
        accept = tuple(fs.get("accept", ()))
        if not accept or set(accept) - set(KINDS):
            raise fail(f"files.accept must be a non-empty subset of {list(KINDS)}")
        recommend = fs.get("recommend_mb")
        files = FileSpec(
            category=fs.get("category") or sid,
            label=fs.get("label") or "",
            rule=FileRule(
                accept=accept,
                max_bytes=int(float(fs.get("max_mb", 20)) * MB),
                recommend_bytes=int(float(recommend) * MB) if recommend else None,
                min_pixels=int(fs.get("min_pixels", 0)),
            ),
            min_files=int(fs.get("min", 1)),
            max_files=int(fs.get("max", 1)),
        )
        if not files.label:
            raise fail("files.label is required")
        if not 0 <= files.min_files <= files.max_files or files.max_files < 1:
            raise fail("files.min/max must satisfy 0 <= min <= max, max >= 1")
    cases = tuple((str(k), str(v)) for k, v in (spec.get("cases") or {}).items())
    return Step(
        id=sid,
        kind=kind,
        text=spec.get("text"),
        label=spec.get("label"),
        next=spec.get("next"),
        facts=tuple(spec.get("facts", ())),
        menu_path=tuple(spec.get("menu_path", ())),
        validator=spec.get("validator"),
        answer=spec.get("answer"),
        options=tuple(options),
        files=files,
        rule=spec.get("rule"),
        cases=cases,
        template=spec.get("template"),
        effect=spec.get("effect"),
    )


def step_targets(step: Step) -> list[str]:
    """Every step reference a step can lead to."""
    targets = [step.next] if step.next else []
    targets += [o.next for o in step.options if o.next]
    targets += [target for _, target in step.cases]
    return targets


def flow_msgids(flow: Flow) -> Iterable[tuple[Step | None, str]]:
    yield None, flow.title
    for step in flow.steps.values():
        if step.text:
            yield step, step.text
        if step.label:
            yield step, step.label
        for option in step.options:
            yield step, option.label
        if step.files:
            yield step, step.files.label
        for label in step.menu_path:
            yield step, label


def check_flows(
    flows: Mapping[str, Flow],
    *,
    validators: Iterable[str],
    rules: Mapping[str, Iterable[str]],
    effects: Iterable[str],
    templates: Iterable[str],
    figures: Mapping[str, str],
    has_translation: Callable[[str, str], bool],
    locales: Iterable[str],
    known_facts: Iterable[str] | None = None,
) -> None:
    """Raise ``FlowError`` on the first problem found, naming the file and step."""
    validators, effects, templates = set(validators), set(effects), set(templates)
    locales = tuple(locales)
    facts = set(known_facts) if known_facts is not None else None
    for flow in flows.values():

        def fail(step: Step | None, problem: str, where: str = flow.source) -> FlowError:
            at = f" step '{step.id}':" if step else ""
            return FlowError(f"{where}:{at} {problem}")

        if flow.start not in flow.steps:
            raise fail(None, f"start step '{flow.start}' does not exist")
        for step in flow.steps.values():
            _check_step(flow, step, flows, fail, validators, rules, effects, templates)
            if facts is not None and set(step.facts) - facts:
                raise fail(step, f"unknown fact ids {sorted(set(step.facts) - facts)}")
        _check_reachable(flow, fail)
        _check_no_silent_loop(flow, fail)
        for step, msgid in flow_msgids(flow):
            for locale in locales:
                if not has_translation(locale, msgid):
                    raise fail(step, f"no {locale} translation for {msgid!r}")
            unknown = _placeholders(msgid) - set(figures)
            if unknown:
                raise fail(step, f"placeholders {sorted(unknown)} are not figures")


def _check_step(flow, step, flows, fail, validators, rules, effects, templates) -> None:
    for target in step_targets(step):
        if target.startswith(FLOW_PREFIX):
            if target[len(FLOW_PREFIX):] not in flows:
                raise fail(step, f"flow '{target[len(FLOW_PREFIX):]}' does not exist")
        elif target not in flow.steps:
            raise fail(step, f"next step '{target}' does not exist")
    if step.kind != "end" and not step.text and step.kind not in ("branch", "summary"):
        raise fail(step, "has no text")
    if step.kind == "end":
        if step_targets(step):
            raise fail(step, "an end step leads nowhere")
    elif step.kind == "choice":
        if not step.options:
            raise fail(step, "a choice needs options")
        ids = [o.id for o in step.options]
        if len(set(ids)) != len(ids):
            raise fail(step, "option ids repeat")
        if not step.next and any(not o.next for o in step.options):
            raise fail(step, "dead end: an option has no next step")
    elif step.kind == "branch":
        if step.rule not in rules:
            raise fail(step, f"unknown rule {step.rule!r}")
        missing = set(rules[step.rule]) - {k for k, _ in step.cases}
        if missing:
            raise fail(step, f"dead end: no case for outcomes {sorted(missing)}")
    elif not step.next:
        raise fail(step, "dead end: no next step")
    if (step.kind == "text" or (step.kind == "choice" and step.answer)) and not step.label:
        raise fail(step, "a question needs a short 'label' for /status")
    if step.kind == "text" and step.validator not in validators:
        raise fail(step, f"unknown validator {step.validator!r}")
    if step.kind == "summary" and step.template not in templates:
        raise fail(step, f"unknown template {step.template!r}")
    if step.effect and step.effect not in effects:
        raise fail(step, f"unknown effect {step.effect!r}")


def _check_reachable(flow: Flow, fail) -> None:
    seen, todo = set(), [flow.start]
    while todo:
        sid = todo.pop()
        if sid in seen:
            continue
        seen.add(sid)
        todo += [t for t in step_targets(flow.steps[sid]) if not t.startswith(FLOW_PREFIX)]
    for sid in flow.steps:
        if sid not in seen:
            raise fail(flow.steps[sid], "unreachable from the start step")


def _check_no_silent_loop(flow: Flow, fail) -> None:
    """A cycle through steps that ask nothing would spin forever."""
    for start in flow.steps.values():
        if start.is_question:
            continue
        seen, sid = set(), start.id
        while sid and not sid.startswith(FLOW_PREFIX):
            step = flow.steps[sid]
            if step.is_question or step.kind in ("branch", "end"):
                break
            if sid in seen:
                raise fail(start, "loops through steps that ask nothing")
            seen.add(sid)
            sid = step.next


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
