"""A Mermaid diagram of each flow, generated from the flow itself so it cannot drift."""

from __future__ import annotations

from bot.engine.model import FLOW_PREFIX, Flow

SHAPES = {
    "info": ("[", "]"),
    "text": ("[/", "/]"),
    "choice": ("{", "}"),
    "files": ("[(", ")]"),
    "branch": ("{{", "}}"),
    "summary": ("[[", "]]"),
    "end": ("([", "])"),
}


def mermaid(flow: Flow) -> str:
    lines = [f"%% Generated from {flow.id}.yaml by `python -m bot diagrams`; do not edit.",
             "flowchart TD"]
    for step in flow.steps.values():
        left, right = SHAPES[step.kind]
        detail = step.validator or (step.files.category if step.files else "") or step.rule or ""
        label = f"{step.id}: {step.kind}" + (f" {detail}" if detail else "")
        lines.append(f'    {step.id}{left}"{label}"{right}')
    for step in flow.steps.values():
        edges = [(o.next or step.next, o.id) for o in step.options]
        edges += [(target, outcome) for outcome, target in step.cases]
        if not step.options and step.next:
            edges.append((step.next, ""))
        for target, label in edges:
            if target is None:
                continue
            if target.startswith(FLOW_PREFIX):
                node = "flow_" + target[len(FLOW_PREFIX):]
                lines.append(f'    {node}>"{target}"]')
                target = node
            arrow = f" -->|{label}| " if label else " --> "
            lines.append(f"    {step.id}{arrow}{target}")
    return "\n".join(lines) + "\n"
