"""Where a merchant stands in a flow: the question number and, when it can be known, the total.

"Question k of n" must be true for this merchant's path: k counts the distinct questions asked so
far in this flow (an answer changed with /back is not counted twice), n adds the questions still
ahead. Ahead is walked through the flow's steps; where the path forks (a choice or a rule) and the
branches ask different numbers of questions, the total is not known and only k is shown. A branch
that leaves the flow (back to the main menu) ends the path early and does not count as a fork;
a step already asked (a loop, such as "add more documents") adds nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.model import FLOW_PREFIX, Flow, State, Step


@dataclass(frozen=True)
class Progress:
    k: int
    n: int | None  # None: the total depends on answers still to come

    @property
    def shown(self) -> bool:
        """A page with a single question has no counter."""
        return self.n != 1 or self.k != 1


def asked(state: State, flow: Flow) -> list[str]:
    """Ids of this flow's questions answered on the way here, in order, without repeats."""
    seen: list[str] = []
    for entry in state.stack:
        flow_id, _, step_id = entry.partition(".")
        if flow_id == flow.id and step_id in flow.steps and step_id not in seen:
            seen.append(step_id)
    return seen


def _next_targets(step: Step) -> list[str]:
    """Where the path can go after ``step``; a target outside the flow ends it."""
    if step.kind == "choice":
        targets = [o.next or step.next for o in step.options]
        inside = [t for t in targets if t and not t.startswith(FLOW_PREFIX)]
        return list(dict.fromkeys(inside))
    if step.kind == "branch":
        return list(dict.fromkeys(target for _, target in step.cases))
    if step.kind == "end" or not step.next or step.next.startswith(FLOW_PREFIX):
        return []
    return [step.next]


def questions_ahead(flow: Flow, start: str, done: frozenset[str]) -> frozenset[int]:
    """How many new questions each path from ``start`` (not counted itself) may still ask.
    Kept on the flow (steps never change once loaded): every question a merchant is asked
    shows its counter, and walking the paths again each time was a fair part of a turn."""
    key = (start, done)
    found = flow.memo.get(key)
    if found is None:
        found = flow.memo[key] = frozenset(_questions_ahead(flow, start, done))
    return found


def _questions_ahead(flow: Flow, start: str, done: frozenset[str]) -> set[int]:
    memo: dict[tuple[str, frozenset[str]], set[int]] = {}

    def walk(step_id: str, seen: frozenset[str]) -> set[int]:
        key = (step_id, seen)
        if key in memo:
            return memo[key]
        step = flow.steps[step_id]
        new = step.is_question and step_id not in seen
        seen = seen | {step_id}
        targets = [t for t in _next_targets(step) if t not in seen]
        rest = set().union(*(walk(t, seen) for t in targets)) if targets else {0}
        memo[key] = {int(new) + r for r in rest}
        return memo[key]

    step = flow.steps[start]
    seen = done | {start}
    targets = [t for t in _next_targets(step) if t not in seen]
    if not targets:
        return {0}
    return set().union(*(walk(t, seen) for t in targets))


def progress(state: State, flow: Flow, step: Step) -> Progress:
    before = asked(state, flow)
    k = before.index(step.id) + 1 if step.id in before else len(before) + 1
    ahead = questions_ahead(flow, step.id, frozenset(before))
    known = len(set(before) | {step.id})  # a loop back to an earlier question adds none
    return Progress(k, known + next(iter(ahead)) if len(ahead) == 1 else None)


def _reaches_an_end(flow: Flow, start: str, avoid: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        sid = todo.pop()
        if sid in seen or sid == avoid:
            continue
        seen.add(sid)
        targets = _next_targets(flow.steps[sid])
        if not targets:
            return True
        todo += targets
    return False


def ahead_steps(flow: Flow, start: str) -> list[Step]:
    """Questions every path from ``start`` on (itself included) still asks, in flow order:
    a question on only one side of a fork is not yet known to be needed."""
    key = ("ahead_steps", start)
    found = flow.memo.get(key)
    if found is None:
        found = flow.memo[key] = tuple(
            s for s in flow.questions()
            if s.id == start or not _reaches_an_end(flow, start, avoid=s.id))
    return list(found)
