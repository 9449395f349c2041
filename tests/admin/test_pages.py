"""The console's pages over HTTP: merchants (search, stuck), one merchant (transcript, answers,
masked ID numbers), export, funnel; in both languages."""

from __future__ import annotations

import csv
import io
import re

from bot.engine.model import Choose, Hello, Upload
from bot.engine.validators import mask_id
from tests.admin.kit import ID_NUMBER
from tests.channels.fake_wecom import png


async def to_the_id_question(site, user: str, company: str) -> None:
    await site.start_form(user, company)
    await site.talk(user, Choose("maker"))
    await site.talk(user, Upload(png(800, 800), "license.png"))
    await site.talk(user, Upload(png(700, 700), "site.png"))
    await site.talk(user, "done")


async def test_merchants_search_and_stuck_filter(site):
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    site.clock.advance(days=5)
    await site.start_form("m2", "杭州远山机械有限公司")
    await site.login("olga")

    html = await (await site.client.get("/admin/")).text()
    assert "Ningbo Coast Trading Co., Ltd." in html and "杭州远山机械有限公司" in html
    html = await (await site.client.get("/admin/", params={"q": "远山"})).text()
    assert "杭州远山机械有限公司" in html and "Ningbo Coast" not in html
    html = await (await site.client.get("/admin/", params={"q": "ningbo"})).text()
    assert "Ningbo Coast" in html and "远山" not in html
    # stuck at a step for 3 days or more: only the first merchant
    html = await (await site.client.get("/admin/", params={"stuck": "3"})).text()
    assert "Ningbo Coast" in html and "远山" not in html
    assert "Company kind" in html  # the step, by its label
    assert "2/6" in html  # progress: the second of the form's six questions


async def test_merchant_page_shows_the_transcript_and_masks_id_numbers(site):
    await to_the_id_question(site, "m1", "Ningbo Coast Trading Co., Ltd.")
    await site.talk("m1", ID_NUMBER)
    merchant = await site.merchant("m1")
    await site.login("olga")
    response = await site.client.get(f"/admin/merchants/{merchant.id}")
    assert response.status == 200
    html = await response.text()
    assert "What is the company name?" in html  # the guide's side
    assert "Ningbo Coast Trading Co., Ltd." in html  # the merchant's side
    assert "▸ Maker" in html  # a button press, by its label
    assert "license.png" in html and "site.png" in html
    assert "/admin/documents/" in html  # thumbnails
    assert ID_NUMBER not in html
    assert mask_id(ID_NUMBER) in html
    # the thumbnail is an image; the original is for admins only
    doc_id = html.split("/admin/documents/")[1].split("/")[0]
    thumb = await site.client.get(f"/admin/documents/{doc_id}/thumb")
    assert thumb.status == 200 and thumb.content_type == "image/jpeg"
    assert (await site.client.get(f"/admin/documents/{doc_id}")).status == 403


async def test_admins_download_originals_and_it_is_audited(site):
    await to_the_id_question(site, "m1", "Ningbo Coast Trading Co., Ltd.")
    merchant = await site.merchant("m1")
    await site.login("adam")
    html = await (await site.client.get(f"/admin/merchants/{merchant.id}")).text()
    doc_id = html.split("/admin/documents/")[1].split("/")[0].split('"')[0]
    response = await site.client.get(f"/admin/documents/{doc_id}")
    assert response.status == 200
    assert (await response.read()).startswith(b"\x89PNG")
    audit = await (await site.client.get("/admin/audit")).text()
    assert "download" in audit and "license.png" in audit


async def test_export_is_utf8_with_a_bom_and_masked(site):
    await to_the_id_question(site, "m1", "宁波海岸贸易有限公司")
    await site.talk("m1", ID_NUMBER)
    await site.login("olga")
    response = await site.client.get("/admin/export.csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    body = await response.read()
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    assert ID_NUMBER not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["ID", "Company"]
    assert rows[1][1] == "宁波海岸贸易有限公司"
    zh = await (await site.client.get("/admin/export.csv",
                                      headers={"Accept-Language": "zh-CN,zh;q=0.9"})).read()
    assert zh.decode("utf-8-sig").startswith("编号,公司")


async def test_the_funnel_counts_who_reached_each_step_and_where_they_stopped(site):
    await to_the_id_question(site, "m1", "Ningbo Coast Trading Co., Ltd.")  # at legal_id
    await site.start_form("m2", "杭州远山机械有限公司")  # at kind
    await site.start_form("m3", "Shenzhen Bright Lamps Co., Ltd.")
    await site.talk("m3", Choose("trader"))  # at license
    await site.login("olga")
    html = await (await site.client.get("/admin/funnel", params={
        "flow": "form", "since": "2026-11-01", "until": "2026-11-30"})).text()
    assert "<svg" in html
    rows = html.split('<tbody>')[-1].split("<tr>")[1:]
    cells = {r.split("<td>")[1].split("<")[0]: [c.split("<")[0] for c in r.split('">')[1:3]]
             for r in rows}
    assert cells["Company name"] == ["3", "0"]
    assert cells["Company kind"] == ["3", "1"]  # the step, by its label
    assert cells["License scan"] == ["2", "1"]
    assert cells["ID number"] == ["1", "1"]
    # another period: nobody
    html = await (await site.client.get("/admin/funnel", params={
        "flow": "form", "since": "2026-12-01", "until": "2026-12-31"})).text()
    assert "<strong>0</strong>" in html
    # a channel without merchants: nobody either
    html = await (await site.client.get("/admin/funnel", params={
        "flow": "form", "channel": "wecom", "since": "2026-11-01"})).text()
    assert "<strong>0</strong>" in html


async def test_the_language_switch_and_accept_language(site):
    await site.login("olga")
    html = await (await site.client.get("/admin/", headers={"Accept-Language": "zh-CN"})).text()
    assert "商家" in html and 'lang="zh-CN"' in html
    html = await (await site.client.get("/admin/?lang=en",
                                        headers={"Accept-Language": "zh-CN"})).text()
    assert 'lang="en"' in html and "Merchants" in html
    # the choice is remembered over the browser's language
    html = await (await site.client.get("/admin/inbox",
                                        headers={"Accept-Language": "zh-CN"})).text()
    assert 'lang="en"' in html


async def test_review_statuses_read_as_names_in_the_operators_language(tmp_path, database_url):
    from bot.content import load_guide
    from tests.admin.kit import close_site, open_site

    site = await open_site(tmp_path, database_url, guide=load_guide())
    try:
        for event in (Hello(), Choose("status"), Choose("basic"), Choose("in_review")):
            await site.talk("m1", event)
        result = await site.talk("m1", "2026-10-20")
        assert "Noted" in result.replies[0].text  # the guide recorded the status
        merchant = await site.merchant("m1")
        await site.login("olga")
        zh = {"Accept-Language": "zh-CN"}
        listing = await (await site.client.get("/admin/", headers=zh)).text()
        assert "基本认证 · 审核中" in listing
        assert "basic: in_review" not in listing
        page = await (await site.client.get(f"/admin/merchants/{merchant.id}",
                                            headers=zh)).text()
        assert "基本认证" in page and "审核中" in page and "in_review" not in page.replace(
            'class="badge in_review"', "")
        english = await (await site.client.get("/admin/", headers={
            "Accept-Language": "en"})).text()
        assert "Basic certification · 审核中 (in review)" in english
    finally:
        await close_site(site)


async def test_times_are_the_teams_local_time_with_the_zone_named(site):
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")  # at 08:00 UTC
    merchant = await site.merchant("m1")
    await site.login("olga")
    listing = await (await site.client.get("/admin/")).text()
    assert "2026-11-02 16:00" in listing and "2026-11-02 08:00" not in listing
    assert "Last activity (UTC+08:00)" in listing and "(UTC)" not in listing
    assert "Times are shown in Asia/Shanghai, UTC+08:00." in listing
    page = await (await site.client.get(f"/admin/merchants/{merchant.id}",
                                        headers={"Accept-Language": "zh-CN"})).text()
    assert "16:00" in page and "页面时间均为 Asia/Shanghai, UTC+08:00。" in page
    rows = list(csv.reader(io.StringIO((await (await site.client.get(
        "/admin/export.csv")).read()).decode("utf-8-sig"))))
    column = rows[0].index("Last activity (Asia/Shanghai, UTC+08:00)")
    assert rows[1][column] == "2026-11-02 16:00"


async def test_another_team_timezone(tmp_path, database_url):
    from tests.admin.kit import close_site, open_site

    site = await open_site(tmp_path, database_url, timezone="America/New_York")
    try:
        await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
        await site.login("olga")
        listing = await (await site.client.get("/admin/")).text()
        assert "2026-11-02 03:00" in listing  # 08:00 UTC, the day after New York's DST ended
        assert "America/New_York" in listing
    finally:
        await close_site(site)


def next_page(html: str) -> str:
    return re.search(r'<a href="([^"]+)" id="next"', html).group(1).replace("&amp;", "&")


def total(html: str) -> int:
    return int(re.search(r'<span class="muted" id="total">\((\d+)', html).group(1))


async def test_the_search_runs_over_every_merchant_a_page_at_a_time(site, monkeypatch):
    from bot.store import console

    monkeypatch.setattr(console, "PAGE_SIZE", 2)
    await site.start_form("m0", "Ningbo Coast Trading Co., Ltd.")  # the oldest activity
    for n in range(1, 5):
        site.clock.advance(minutes=1)
        await site.start_form(f"m{n}", f"杭州远山机械有限公司{n}号厂")
    await site.login("olga")

    html = await (await site.client.get("/admin/", params={"q": "NINGBO coast"})).text()
    assert "Ningbo Coast Trading" in html and "远山" not in html  # case folded, found anyway
    assert total(html) == 1 and 'id="pages"' not in html
    first = await (await site.client.get("/admin/", params={"q": "远山机械"})).text()
    assert total(first) == 4
    assert "4号厂" in first and "3号厂" in first and "2号厂" not in first  # latest first
    assert "Page 1 of 2" in first and 'id="previous"' not in first
    second = await (await site.client.get(next_page(first))).text()
    assert "2号厂" in second and "1号厂" in second and "4号厂" not in second
    assert "Page 2 of 2" in second and 'id="next"' not in second
    # the pattern's own characters are text, not wildcards
    for wildcard in ("%", "_", "远山%厂"):
        html = await (await site.client.get("/admin/", params={"q": wildcard})).text()
        assert total(html) == 0, wildcard
    # the stuck filter, combined with the search, in the same query, kept across pages
    site.clock.advance(days=4)
    await site.talk("m4", "Maker")  # m4 is active again
    await site.login("olga")  # the sign-in of four days ago has expired
    html = await (await site.client.get("/admin/", params={"q": "远山", "stuck": "3"})).text()
    assert total(html) == 3 and "4号厂" not in html
    assert "stuck=3" in next_page(html) and "q=" in next_page(html)
