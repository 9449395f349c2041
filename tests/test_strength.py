"""The Strength Merchant check says what the source says: prerequisites are required, the export
figure is an example, "Other" membership is not a free account, and the check can be the end."""

from __future__ import annotations

import pytest

from bot.content import load_guide
from bot.engine.messages import Msg
from bot.engine.model import Choose
from tests.talk import Talk


@pytest.fixture(scope="module")
def guide():
    return load_guide()


def check(guide, locale, *, basic="passed", deep="factory", membership="gold", exports="80万美元"):
    talk = Talk(guide, locale)
    for choice in ("strength", basic, deep, membership):
        talk(Choose(choice))
    for text in (exports, "95%", "4.8"):
        talk(text)
    return talk


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_another_paid_membership_is_not_called_a_free_account(guide, locale):
    other = check(guide, locale, membership="other")
    free = check(guide, locale, membership="free")
    free_text = free.t(Msg(
        "You have a free account: paid members (e.g. Gold Supplier) are favoured and free "
        "accounts may be limited."))
    assert free_text in free.text
    assert free_text not in other.text


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_exports_below_the_example_are_not_an_unmet_requirement(guide, locale):
    talk = check(guide, locale, exports="300万元")
    assert talk.step == "strength.apply_now"  # the prerequisites are met: ready
    assert ("300 万元（约 42 万美元）" if locale == "zh_CN"
            else "RMB 3,000,000 (about USD 420,000)") in talk.text
    assert ("例如年出口额超 50 万美元" if locale == "zh_CN" else "above USD 500,000") in talk.text
    not_met = talk.t(Msg("Not met yet:"))
    assert not_met not in talk.text


@pytest.mark.parametrize("outcome", [{}, {"basic": "not_yet"}])
def test_the_eligibility_check_can_be_the_end(guide, outcome):
    talk = check(guide, "en", **outcome)
    assert talk.step in ("strength.apply_now", "strength.after_gaps")
    talk(Choose("menu"))
    assert talk.step == "menu.main"
    assert "transaction_report" not in str(talk.state.stack)
