"""Console security over HTTP: sign-in, the session cookie, CSRF, slowed guessing, roles and
the audit log."""

from __future__ import annotations

import asyncio

import pytest

from tests.admin.kit import PASSWORD, close_site, csrf, open_site


async def test_pages_need_a_sign_in(site):
    response = await site.client.get("/admin/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/admin/login"
    response = await site.client.post("/admin/merchants/1/reply", data={"text": "hi"})
    assert response.status == 403


async def test_sign_in_sets_a_session_cookie_that_scripts_cannot_read(site):
    await site.login("olga")
    response = await site.client.get("/admin/")
    assert response.status == 200
    assert "olga" in await response.text()


@pytest.mark.parametrize("secure", [False, True])
async def test_cookie_flags(tmp_path, database_url, secure):
    site = await open_site(tmp_path, database_url, secure=secure)
    try:
        page = await site.client.get("/admin/login")
        token = csrf(await page.text())
        # a client keeps a Secure cookie for https only: this one is sent back by hand
        response = await site.client.post("/admin/login", data={
            "username": "olga", "password": PASSWORD, "csrf_token": token},
            headers={"Cookie": f"bot_admin_login={token}"}, allow_redirects=False)
        cookie = next(v for v in response.headers.getall("Set-Cookie")
                      if v.startswith("bot_admin="))
        flags = cookie.lower()
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert "max-age=43200" in flags
        assert ("secure" in flags.replace("samesite", "")) is secure
    finally:
        await close_site(site)


async def test_a_post_without_a_valid_csrf_token_is_refused(site):
    page = await site.client.get("/admin/login")
    token = csrf(await page.text())
    response = await site.client.post("/admin/login", data={
        "username": "olga", "password": PASSWORD}, allow_redirects=False)
    assert response.status == 403
    response = await site.client.post("/admin/login", data={
        "username": "olga", "password": PASSWORD, "csrf_token": token + "x"},
        allow_redirects=False)
    assert response.status == 403

    await site.login("olga")
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    merchant = await site.merchant("m1")
    good = await site.page_csrf(f"/admin/merchants/{merchant.id}")
    for data in ({"text": "hello"}, {"text": "hello", "csrf_token": "forged"},
                 {"text": "hello", "csrf_token": token}):  # the login form's token is not it
        response = await site.client.post(f"/admin/merchants/{merchant.id}/reply", data=data,
                                          allow_redirects=False)
        assert response.status == 403
    assert site.sender.sent == []
    response = await site.client.post(f"/admin/merchants/{merchant.id}/reply", data={
        "text": "hello", "csrf_token": good}, allow_redirects=False)
    assert response.status == 303
    assert site.sender.texts("m1") == ["hello"]


async def test_failed_sign_ins_are_slowed_per_user(site):
    for _ in range(3):
        await site.login("olga", "wrong password", expect=401)
    await site.login("olga", "wrong password", expect=401)  # the 4th locks for a second
    # even the right password is refused while locked, without being checked
    await site.login("olga", PASSWORD, expect=429)
    site.clock.advance(seconds=1.1)
    await site.login("olga", "wrong again", expect=401)  # the 5th: two seconds
    site.clock.advance(seconds=1.1)
    await site.login("olga", PASSWORD, expect=429)
    site.clock.advance(seconds=1.0)
    await site.login("olga", PASSWORD)
    # another user from the same address was never slowed by olga's failures alone
    site.client.session.cookie_jar.clear()
    await site.login("adam")


async def test_failed_sign_ins_are_slowed_per_address(site):
    for n in range(10):
        await site.login(f"guess{n}", "x", expect=401)
    await site.login("guess10", "x", expect=401)
    # the address is locked now: a real user from it waits too
    await site.login("adam", PASSWORD, expect=429)
    site.clock.advance(seconds=2)
    await site.login("adam")


async def test_the_login_page_says_what_went_wrong(site):
    page = await site.client.get("/admin/login", headers={"Accept-Language": "zh-CN"})
    token = csrf(await page.text())
    response = await site.client.post("/admin/login", data={
        "username": "olga", "password": "nope", "csrf_token": token},
        headers={"Accept-Language": "zh-CN"})
    assert response.status == 401
    assert "用户名或密码错误" in await response.text()


async def test_operators_serve_merchants_admins_also_read_the_audit_log(site):
    await site.start_form("m1", "Ningbo Coast Trading Co., Ltd.")
    merchant = await site.merchant("m1")
    await site.login("olga")
    assert (await site.client.get("/admin/audit")).status == 403
    token = await site.page_csrf(f"/admin/merchants/{merchant.id}")
    await site.client.post(f"/admin/merchants/{merchant.id}/reply",
                           data={"text": "We will call you.", "csrf_token": token})
    await site.client.post(f"/admin/merchants/{merchant.id}/release",
                           data={"csrf_token": token})
    assert (await site.client.get("/admin/export.csv")).status == 200
    nav = await (await site.client.get("/admin/")).text()
    assert "/admin/audit" not in nav  # operators are not offered the page

    site.client.session.cookie_jar.clear()
    await site.login("adam")
    response = await site.client.get("/admin/audit")
    assert response.status == 200
    html = await response.text()
    rows = html.split('<tr class="entry">')[1:]
    actions = [row.split('class="action">')[1].split("<")[0] for row in rows]
    # newest first
    assert actions == ["login", "export", "release", "reply", "login"]
    assert f"#{merchant.id}" in rows[2] and f"#{merchant.id}" in rows[3]
    assert "olga" in rows[1] and "adam" in rows[0]


async def test_failed_sign_ins_are_in_the_audit_log(site):
    await site.login("olga", "bad", expect=401)
    await site.login("adam")
    html = await (await site.client.get("/admin/audit")).text()
    assert "login_failed" in html


async def test_signing_out_ends_the_session(site):
    await site.login("olga")
    token = await site.page_csrf()
    cookie = site.client.session.cookie_jar.filter_cookies(site.client.make_url("/admin/"))
    response = await site.client.post("/admin/logout", data={"csrf_token": token},
                                      allow_redirects=False)
    assert response.status == 303
    # the old cookie no longer opens anything, even if replayed
    response = await site.client.get("/admin/", allow_redirects=False,
                                     cookies={"bot_admin": cookie["bot_admin"].value})
    assert response.status == 303


async def test_a_session_expires(site):
    await site.login("olga")
    site.clock.advance(hours=12, seconds=1)
    response = await site.client.get("/admin/", allow_redirects=False)
    assert response.status == 303


async def test_admins_manage_users_in_the_browser_operators_cannot(site):
    await site.login("olga")
    assert (await site.client.get("/admin/users")).status == 403
    token = await site.page_csrf()
    response = await site.client.post("/admin/users", data={
        "name": "mallory", "role": "admin", "new_password": PASSWORD, "csrf_token": token})
    assert response.status == 403
    site.client.session.cookie_jar.clear()

    await site.login("adam")
    token = await site.page_csrf("/admin/users")
    response = await site.client.post("/admin/users", data={
        "name": "lin", "role": "operator", "new_password": "short", "csrf_token": token})
    assert response.status == 400
    assert "at least 8 characters" in await response.text()
    response = await site.client.post("/admin/users", data={
        "name": "lin", "role": "operator", "new_password": PASSWORD + "!",
        "csrf_token": token})
    assert response.status == 200 and "lin" in await response.text()
    response = await site.client.post("/admin/users/remove", data={
        "name": "adam", "csrf_token": token})
    assert response.status == 400  # not oneself
    await site.client.post("/admin/users/remove", data={"name": "olga", "csrf_token": token})
    html = await (await site.client.get("/admin/users")).text()
    assert "olga" not in html.split('id="users"')[1].split("</table>")[0]
    audit = await (await site.client.get("/admin/audit")).text()
    assert "user_add" in audit and "user_remove" in audit
    site.client.session.cookie_jar.clear()
    await site.login("lin", PASSWORD + "!")
    await site.login("olga", expect=401)  # removed


async def test_two_console_workers_on_one_database_slow_the_same_guesser(tmp_path,
                                                                         database_url):
    from tests.admin.kit import close_site, open_site

    one = await open_site(tmp_path / "one", database_url)
    two = await open_site(tmp_path / "two", database_url)  # its own service and engine
    try:
        # failures on both workers, some at the same moment, add up for the user
        await one.login("olga", "wrong", expect=401)
        await asyncio.gather(one.login("olga", "wrong", expect=401),
                             two.login("olga", "wrong", expect=401))
        await two.login("olga", "wrong", expect=401)  # the 4th locks olga for a second
        await one.login("olga", PASSWORD, expect=429)  # on the other worker too
        await two.login("olga", PASSWORD, expect=429)
        for site in (one, two):
            site.clock.advance(seconds=1.1)
        await one.login("olga")
        # and for the address (olga's four failures count there too): ten in all are free,
        # the eleventh, on either worker, locks the address on both
        for n in range(6):
            await (one, two)[n % 2].login(f"guess{n}", "x", expect=401)
        await two.login("guess6", "x", expect=401)
        await one.login("adam", PASSWORD, expect=429)
        await two.login("adam", PASSWORD, expect=429)
    finally:
        await close_site(two)
        await close_site(one)
