"""Every date question means what it asks: the day something happened cannot be in the future,
a day still to come cannot be past; each has its own example, and only the license's end date
speaks of 长期 (long-term)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.content import load_guide
from bot.engine.model import State, Text
from bot.i18n import SUPPORTED

TODAY = date(2026, 11, 30)
YESTERDAY, TOMORROW = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
DATE_VALIDATORS = {"date", "past_date", "future_date"}


@pytest.fixture(scope="module")
def guide():
    return load_guide()


def date_questions(guide):
    return [(flow.id, step) for flow in guide.flows.values() for step in flow.questions()
            if step.kind == "text" and step.validator in DATE_VALIDATORS]


def at(guide, flow_id, step_id, locale):
    return State(locale, flow=flow_id, step=step_id)


def answer(guide, flow_id, step_id, locale, text):
    state = at(guide, flow_id, step_id, locale)
    return guide.handle(state, Text(text), TODAY)


def test_the_dates_something_happened_and_the_dates_to_come_are_told_apart(guide):
    kinds = {f"{flow}.{step.id}": step.validator for flow, step in date_questions(guide)}
    assert kinds == {
        "basic.license_end": "date", "renewal.license_end": "date",
        "status.pending_date": "past_date", "status.in_review_date": "past_date",
        "status.passed_date": "past_date", "factory.inspection_date": "future_date",
    }


@pytest.mark.parametrize("locale", SUPPORTED)
def test_each_date_question_on_both_sides_of_today(guide, locale):
    for flow_id, step in date_questions(guide):
        where = f"{flow_id}.{step.id}"
        past = answer(guide, flow_id, step.id, locale, YESTERDAY.isoformat())
        future = answer(guide, flow_id, step.id, locale, TOMORROW.isoformat())
        if step.validator == "past_date":
            refused, accepted = future, past
        elif step.validator == "future_date":
            refused, accepted = past, future
        elif flow_id == "basic":  # an expired license is refused where the license is collected
            refused, accepted = past, future
        else:  # renewal notes an expired license and warns
            assert past.expects.step != where
            assert future.expects.step != where
            continue
        assert refused.expects.step == where, where
        assert refused.state.answers == {}, where
        assert accepted.expects.step != where, where
        assert accepted.state.answers[step.answer_key(flow_id)] in (
            YESTERDAY.isoformat(), TOMORROW.isoformat())
    today = answer(guide, "status", "passed_date", locale, TODAY.isoformat())
    assert today.expects.step != "status.passed_date"  # today is not the future


@pytest.mark.parametrize("locale", SUPPORTED)
def test_a_past_date_refusal_says_why_and_gives_a_past_example(guide, locale):
    out = answer(guide, "status", "passed_date", locale, "2031-06-30")
    text = out.replies[0].text
    assert ("2031年6月30日" if locale == "zh_CN" else "June 30, 2031") in text
    example = (TODAY - timedelta(days=7)).isoformat()
    assert example in text
    assert "2030-12-31" not in out.replies[-1].text  # the license's example is not offered


@pytest.mark.parametrize("locale", SUPPORTED)
def test_only_the_license_end_date_speaks_of_long_term(guide, locale):
    long_term = "长期" if locale == "zh_CN" else "long-term"
    for flow_id, step in date_questions(guide):
        prompt = guide.handle(at(guide, flow_id, step.id, locale), Text("/repeat"), TODAY)
        refusal = answer(guide, flow_id, step.id, locale, "soon")
        said = prompt.replies[-1].text + refusal.replies[0].text
        if step.answer == "license_end_date":
            assert long_term in said
        else:
            assert long_term not in said, f"{flow_id}.{step.id}: {said}"
            example = prompt.replies[-1].text.rsplit(" ", 1)[-1].rsplit("：", 1)[-1]
            day = date.fromisoformat(example)
            assert (day < TODAY) if step.validator == "past_date" else (day > TODAY)
