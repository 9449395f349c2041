"""What the guide promises, it does; what it cannot do, it does not promise."""

from __future__ import annotations

import pytest

from bot.content import load_guide
from bot.engine.model import Choose, State, Text, Upload
from bot.transcripts import sample_file
from tests.talk import TODAY, Talk


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.mark.parametrize("passed", [False, True])
def test_a_completed_renewal_promises_reminders_only_with_a_pass_date(guide, passed):
    talk = Talk(guide, "en")
    if passed:
        talk.state.certifications["basic"] = {"status": "passed", "reason": None}
    for choice in ("renewal", "renewed", "both"):
        talk(Choose(choice))
    promise = "I will remind you 60, 30 and 7 days before next year's anniversary"
    assert (promise in talk.text) is passed
    assert ("I cannot time the reminders" in talk.text) is not passed


def test_both_renewed_reads_both_completed_in_chinese(guide):
    talk = Talk(guide, "zh_CN")
    talk(Choose("renewal"))
    talk(Choose("renewed"))
    labels = [c.label for r in talk.out.replies for c in r.choices]
    assert "两项都已完成" in labels and "两项都要" not in labels


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_trade_continue_with_no_document_is_refused(guide, locale):
    talk = Talk(guide, locale)
    talk(Choose("trade"))
    for _ in range(3):
        talk(Choose("done"))
    assert talk.step == "trade.what_next"
    talk(Choose("continue"))
    assert talk.step == "trade.what_next"
    talk(Choose("add"))
    talk(Upload(sample_file("pdf", 1), "orders.pdf", step="trade.export_orders"))
    for _ in range(3):
        talk(Choose("done"))
    talk(Choose("continue"))
    assert talk.step == "menu.main"  # submitted: the flow ends


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("cert", ["basic", "strength_merchant"])
def test_only_a_passed_strength_merchant_application_talks_about_the_badge(guide, locale, cert):
    talk = Talk(guide, locale)
    for choice in ("status", cert, "passed"):
        talk(Choose(choice))
    talk("2026-11-01")
    badge = "徽章" if locale == "zh_CN" else "badge"
    assert (badge in talk.text) is (cert == "strength_merchant")


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_an_expired_license_offers_cancel_and_the_main_menu(guide, locale):
    state = State(locale, flow="basic", step="license_end")
    out = guide.handle(state, Text("2026-01-31"), TODAY)
    assert out.expects.step == "basic.license_end"
    assert "/cancel" in out.replies[0].text and "/back" in out.replies[0].text
    out = guide.handle(out.state, Text("/cancel"), TODAY)
    assert out.expects.step == "menu.main"
