"""The handoff to a person: asked for in the chat, served from the console's inbox, released
back to the guide at the question the merchant was at; staff alerted, and alerted again."""

from __future__ import annotations

import pytest

from bot.engine.model import Choose, Upload
from tests.admin.kit import csrf
from tests.channels.fake_wecom import png


@pytest.mark.parametrize("words", ["转人工", "人工", "human", "Human ", "/human"])
async def test_asking_for_a_person_is_answered_with_the_team_hours(site, words):
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    result = await site.talk("m1", words)
    assert len(result.replies) == 1
    assert "A person from our team will answer you here" in result.replies[0].text
    assert "Mon-Fri 09:00-18:00" in result.replies[0].text
    assert [a.company for a in site.alerts] == ["Ningbo Coast Trading Co., Ltd."]
    assert site.alerts[0].link.endswith(f"/admin/merchants/{(await site.merchant('m1')).id}")
    assert "**A merchant asks for a person**" in site.alerts[0].markdown
    # where the merchant is, by name, and the wait in the team's time with its zone
    assert "At: Test form › Company kind" in site.alerts[0].markdown
    assert (site.alerts[0].flow, site.alerts[0].step) == ("Test form", "Company kind")
    assert "waiting since 2026-11-02 16:00 (Asia/Shanghai, UTC+08:00)" in site.alerts[0].markdown
    assert "UTC)" not in site.alerts[0].markdown.replace("UTC+08:00)", "")


async def test_while_handed_over_messages_wait_for_the_operator(site):
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    await site.talk("m1", "转人工")
    result = await site.talk("m1", "Where do I find the license number?")
    assert result.replies == []  # the guide stays silent
    result = await site.talk("m1", Choose("maker"))  # a button of the old question too
    assert result.replies == []
    result = await site.talk("m1", Upload(png(800, 800), "license.png"))
    assert "this file was not filed" in result.replies[0].text
    merchant = await site.merchant("m1")
    assert merchant.state["step"] == "kind"  # the guide did not move
    assert "kind" not in merchant.state["answers"]

    await site.login("olga")
    html = await (await site.client.get("/admin/inbox")).text()
    assert "Ningbo Coast Trading Co., Ltd." in html
    assert "📎 license.png" in html  # the merchant's last message
    assert "Test form › Company kind" in html  # where they are, by name
    listing = await (await site.client.get("/admin/")).text()
    assert "Waiting for a person" in listing


async def test_the_inbox_lists_the_longest_wait_first(site):
    for user, company in (("m1", "First Waiting Co., Ltd."), ("m2", "Second Waiting Co., Ltd."),
                          ("m3", "Third Waiting Co., Ltd.")):
        await site.start_form(user, company)
    await site.talk("m2", "人工")
    site.clock.advance(minutes=3)
    await site.talk("m3", "人工")
    site.clock.advance(minutes=3)
    await site.talk("m1", "人工")
    site.clock.advance(minutes=1)
    await site.login("olga")
    html = await (await site.client.get("/admin/inbox")).text()
    order = [html.index(c) for c in ("Second Waiting", "Third Waiting", "First Waiting")]
    assert order == sorted(order)
    assert "7 min" in html


async def test_the_operator_replies_through_the_channel_and_releases(site):
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    await site.talk("m1", "转人工")
    merchant = await site.merchant("m1")
    await site.login("olga")
    page = await site.client.get(f"/admin/merchants/{merchant.id}")
    token = csrf(await page.text())

    response = await site.client.post(f"/admin/merchants/{merchant.id}/reply", data={
        "text": "您好，营业执照编号在执照左上角。", "csrf_token": token})
    assert response.status == 200  # followed to the merchant's page
    html = await response.text()
    assert "您好，营业执照编号在执照左上角。" in html
    assert "olga" in html.split("您好")[0].rsplit('class="msg', 1)[1]  # by the operator
    assert site.sender.texts("m1") == ["您好，营业执照编号在执照左上角。"]
    # answered: no longer counted as waiting
    inbox = await (await site.client.get("/admin/inbox")).text()
    assert "answered" in inbox

    response = await site.client.post(f"/admin/merchants/{merchant.id}/release", data={
        "csrf_token": token})
    assert response.status == 200
    released = site.sender.texts("m1")[1:]
    assert "back with the guide" in released[0]
    assert released[-1].endswith("Which kind of company?")  # the question they were at
    inbox = await (await site.client.get("/admin/inbox")).text()
    assert "Nobody is waiting" in inbox
    # back with the guide: the answer is taken
    result = await site.talk("m1", Choose("maker"))
    assert "Send the business license." in result.replies[-1].text


async def test_an_empty_reply_is_refused_and_nothing_is_sent(site):
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    merchant = await site.merchant("m1")
    await site.login("olga")
    token = await site.page_csrf(f"/admin/merchants/{merchant.id}")
    response = await site.client.post(f"/admin/merchants/{merchant.id}/reply", data={
        "text": "   ", "csrf_token": token})
    assert response.status == 400
    assert "Write a reply of 1 to 4000 characters." in await response.text()
    assert site.sender.sent == []


async def test_a_channel_that_is_not_running_is_named(site):
    await site.talk("w1", "转人工", channel="wecom")
    merchant = await site.merchant("w1", "wecom")
    await site.login("olga")
    token = await site.page_csrf(f"/admin/merchants/{merchant.id}")
    response = await site.client.post(f"/admin/merchants/{merchant.id}/reply", data={
        "text": "hello", "csrf_token": token})
    assert response.status == 409
    assert "(wecom) is not running here" in await response.text()


async def test_a_merchant_left_waiting_alerts_staff_again(site):
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    await site.talk("m1", "转人工")
    assert len(site.alerts) == 1
    site.clock.advance(minutes=10)
    assert await site.desk.check_waiting() == 0
    site.clock.advance(minutes=6)
    assert await site.desk.check_waiting() == 1
    assert site.alerts[-1].repeated and "Still waiting" in site.alerts[-1].markdown
    assert await site.desk.check_waiting() == 0  # once per period
    site.clock.advance(minutes=16)
    assert await site.desk.check_waiting() == 1
    # answered: no more alerts, until the merchant writes again and waits
    merchant = await site.merchant("m1")
    await site.desk.reply(merchant, "olga", "On it.")
    site.clock.advance(hours=1)
    assert await site.desk.check_waiting() == 0
    await site.talk("m1", "Thanks, one more question")
    site.clock.advance(minutes=16)
    assert await site.desk.check_waiting() == 1


async def test_delete_erases_the_transcript_and_the_handoff(site):
    from bot.config import Settings
    from bot.documents import install as install_documents

    install_documents(site.service, Settings(bot_data_dir=site.service.files.root.parent))
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    await site.talk("m1", "转人工")
    merchant = await site.merchant("m1")
    asked = await site.talk("m1", "/delete")  # a service command works while handed over
    confirm = next(c for r in asked.replies for c in r.choices if ":delete:" in c.id)
    result = await site.talk("m1", Choose(confirm.id))
    await site.login("olga")
    html = await (await site.client.get(f"/admin/merchants/{merchant.id}")).text()
    assert "Ningbo Coast" not in html, result
    assert "Nobody is waiting" in await (await site.client.get("/admin/inbox")).text()
