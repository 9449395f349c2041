"""Every flow walked down every branch, in both languages, with /status before every answer.

What a merchant would notice: /status names each field it lists (never the catalog's header,
never one field twice), the question counter rises by one per new question and its total is the
real one for the path taken, and a one-question page has no counter at all.
"""

from __future__ import annotations

import copy
import re

import pytest

from bot.content import load_guide
from bot.engine.model import FLOW_PREFIX, Choose, Hello, Text, Upload
from bot.i18n import SUPPORTED
from bot.transcripts import MENU_CHOICE, SCRIPTS, Merchant, sample_file

COUNTER = {
    "en": re.compile(r"· question (\d+)(?: of (\d+))?"),
    "zh_CN": re.compile(r"· 第 (\d+) 题(?:，共 (\d+) 题)?"),
}


@pytest.fixture(scope="module")
def guide():
    return load_guide()


def fork(merchant):
    twin = copy.copy(merchant)
    twin.state = copy.deepcopy(merchant.state)
    return twin


def paths(guide, locale, flow_id):
    """Every path through ``flow_id``: ([(step id, its question's outcome, /status's outcome,
    left the flow)], "end" or "exit"). Options that lead to the same step are walked once; a
    loop back to an earlier step is not walked again."""
    start = Merchant(guide, locale)
    start.send(Hello(), "")
    start.send(Choose(MENU_CHOICE[flow_id]), "")
    finished = []

    def explore(merchant, trail, visited):
        if merchant.state.flow != flow_id:
            finished.append((trail, "exit" if trail and trail[-1][3] else "end"))
            return
        asked = merchant.last
        status = merchant.send(Text("/status"), "/status").outcome
        step = merchant.current()
        if step.id in visited:  # back at a page already walked (the FAQ's list)
            finished.append((trail, "loop"))
            return
        if step.kind == "choice" and not merchant.state.pending.get("offer"):
            targets = set()
            for option in step.options:
                target = option.next or step.next
                if target in targets or target in visited:
                    continue
                targets.add(target)
                twin = fork(merchant)
                twin.send(Choose(option.id, status.expects.step), "")
                entry = (step.id, asked, status, target.startswith(FLOW_PREFIX))
                explore(twin, [*trail, entry], visited | {step.id})
            return
        for _ in merchant.answer(SCRIPTS[flow_id]):
            pass
        explore(merchant, [*trail, (step.id, asked, status, False)], visited | {step.id})

    explore(start, [], frozenset())
    return finished


@pytest.mark.parametrize("locale", SUPPORTED)
@pytest.mark.parametrize("flow_id", sorted(SCRIPTS))
def test_status_and_counters_along_every_path(guide, locale, flow_id):
    pattern = COUNTER[locale]
    all_paths = paths(guide, locale, flow_id)
    assert all_paths
    for trail, ended in all_paths:
        seen: list[str] = []
        totals = set()
        for step_id, outcome, status, _ in trail:
            status_text = status.replies[0].text
            assert "Project-Id-Version" not in status_text
            bullets = [line for line in status_text.splitlines() if line.startswith("• ")]
            names = [b[2:].split(":")[0].split("：")[0] for b in bullets]
            assert len(names) == len(set(names)), f"{flow_id}.{step_id}: {status_text}"
            assert status.state.step == step_id  # /status changes nothing
            question = outcome.replies[-1].text
            match = pattern.search(question)
            if step_id not in seen:
                seen.append(step_id)
            if match is None:
                continue
            assert int(match[1]) == seen.index(step_id) + 1, f"{flow_id}.{step_id}: {question}"
            if match[2]:
                totals.add(int(match[2]))
        assert len(totals) <= 1, f"{flow_id}: the total changed along one path: {totals}"
        if ended == "end" and totals:
            assert totals == {len(seen)}, f"{flow_id}: {seen}"


@pytest.mark.parametrize("locale", SUPPORTED)
def test_a_one_question_page_has_no_counter(guide, locale):
    merchant = Merchant(guide, locale)
    walk = merchant.walk("faq")
    next(walk), next(walk)
    assert merchant.state.step == "ask"
    assert not COUNTER[locale].search(merchant.last.replies[-1].text)


@pytest.mark.parametrize("locale", SUPPORTED)
def test_status_names_every_answer_it_lists(guide, locale):
    merchant = Merchant(guide, locale)
    for _ in merchant.walk("strength", status=False):
        if merchant.state.step == "transaction_report":
            break
    text = merchant.send(Text("/status"),
                         "").outcome.replies[0].text
    t = guide.render.text
    for label in ("Basic certification", "In-depth certification", "Membership",
                  "Annual export value", "Inquiry response rate", "Buyer rating"):
        assert "• " + t(locale, label) in text
    assert t(locale, "Transaction report (交易额报表)") in text.split(t(locale, "Still missing:"))[1]


def greeting(guide, locale):
    menu = guide.flows["menu"]
    return guide.render.text(locale, menu.steps[menu.start].text)


@pytest.mark.parametrize("locale", SUPPORTED)
@pytest.mark.parametrize("flow_id", sorted(SCRIPTS))
def test_few_messages_a_turn_and_one_closing_message(guide, locale, flow_id):
    merchant = Merchant(guide, locale)
    turns = list(merchant.walk(flow_id))
    note = guide.render.text(locale, "Figures are typical values, last reviewed {reviewed}; "
                             "the page in your backend is authoritative.")
    said = [r.text for turn in turns[1:] for r in turn.outcome.replies]
    assert sum(text.count(note) for text in said) <= 1, f"{flow_id}: the figures note repeats"
    for turn in turns[1:]:
        assert len(turn.outcome.replies) <= 3, [r.text[:60] for r in turn.outcome.replies]
    last = turns[-1].outcome.replies
    assert len(last) <= 3  # the last answer's receipt, a summary, then what to do next
    closing = last[-1]
    assert [c.id for c in closing.choices] == [o.id for o in guide.flows["menu"].steps[
        "main"].options]
    assert greeting(guide, locale) not in closing.text
    assert merchant.state.flow == "menu"


@pytest.mark.parametrize("locale", SUPPORTED)
def test_the_camera_note_comes_once_per_category(guide, locale):
    merchant = Merchant(guide, locale)
    camera = guide.render.text(locale, "This photo carries no camera information, as a picture "
                               "saved from the web or a screenshot would. That is fine if you "
                               "took it yourself: the photos must show your real site, not "
                               "pictures from the web.")
    walk = merchant.walk("factory")
    for _ in walk:
        if merchant.state.step == "production_line":
            break
    replies = []
    for seed in (101, 102, 103):
        out = merchant.send(Upload(sample_file("jpg", seed), f"p{seed}.jpg"), "").outcome
        replies += [r.text for r in out.replies]
    assert sum(text.count(camera) for text in replies) == 1
