"""The partner dashboard in a real browser against the real server process."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.conftest import (
    COLOURS,
    DashboardServer,
    bearer,
    eventually,
    make_partner_shop,
    post_order,
    sign_in,
)
from tests.factories.kiosk_network import PASSWORD

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)


async def test_login_form_refuses_bad_password_and_non_partners(
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    await page.goto(f"{server.base_url}/dashboard")
    await expect(page).to_have_url(re.compile(r"/dashboard/login\?next=/dashboard$"))
    await expect(page.get_by_role("heading", name="Partner sign in")).to_be_visible()
    await page.screenshot(path=server.screenshot_path("login"), full_page=True)

    shop = await make_partner_shop(server, api)
    await page.fill("input[name=email]", shop.email)
    await page.fill("input[name=password]", "wrong-password")
    await page.click("form[action='/dashboard/login'] button[type=submit]")
    await expect(page.get_by_test_id("login-error")).to_have_text("Wrong email or password.")
    # The email stays filled in; no session cookie was set.
    await expect(page.locator("input[name=email]")).to_have_value(shop.email)
    assert "iwm_session" not in {c["name"] for c in await page.context.cookies()}

    # An admin has a valid account, but the dashboard is for partners only.
    admin_email = (
        await api.get("/auth/me", headers={"Authorization": f"Bearer {server.admin_token}"})
    ).json()["email"]
    await page.fill("input[name=email]", admin_email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/dashboard/login'] button[type=submit]")
    await expect(page.get_by_test_id("login-error")).to_contain_text("partner")
    assert "iwm_session" not in {c["name"] for c in await page.context.cookies()}

    await page.fill("input[name=email]", shop.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/dashboard/login'] button[type=submit]")
    await expect(page).to_have_url(f"{server.base_url}/dashboard")
    session = next(c for c in await page.context.cookies() if c["name"] == "iwm_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/"


async def test_new_order_appears_by_itself_and_is_marked_printed(
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    shop = await make_partner_shop(server, api, ("Kiosk #1", "Kiosk #2"))
    await sign_in(page, server, shop.email)
    await expect(page.get_by_test_id("no-orders")).to_be_visible()
    await expect(page.get_by_test_id("count-all")).to_have_text("0")
    await page.evaluate("window.__sameDocument = true")

    # The kiosk posts an order while the page is open: it shows up without a reload.
    await post_order(api, shop.kiosks[0], "Noa Levi", "noa@example.com", COLOURS[0])
    card = page.get_by_test_id("order-card").filter(has_text="Noa Levi")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Kiosk #1")
    await expect(card).to_contain_text(re.compile(r"just now|1 min ago"))
    await expect(page.get_by_test_id("count-all")).to_have_text("1")
    await expect(page.get_by_test_id("count-printed")).to_have_text("0")
    assert await page.evaluate("window.__sameDocument") is True
    # The card loads the photo's thumbnail (made at upload), not the 600 px photo.
    thumb = card.locator("img")
    await expect(thumb).to_have_js_property("complete", True)
    assert await thumb.evaluate("img => img.naturalWidth") == 480

    for i, (name, kiosk) in enumerate(
        [("Marie Curie", 1), ("Carlos Ruiz", 0), ("Anna Schmidt", 1)], start=1
    ):
        await post_order(api, shop.kiosks[kiosk], name, colour=COLOURS[i])
    await expect(page.get_by_test_id("order-card")).to_have_count(4)
    await expect(page.get_by_test_id("count-all")).to_have_text("4")

    # One click marks it printed; the counter follows.
    await card.get_by_test_id("mark-printed").click()
    await expect(card.get_by_test_id("order-status")).to_contain_text("Printed")
    await expect(page.get_by_test_id("count-printed")).to_have_text("1")
    await expect(page.get_by_test_id("count-all")).to_have_text("4")
    partner = await bearer(api, shop.email)
    counters = (await api.get("/partner/orders/daily-counters", headers=partner)).json()
    assert counters == {"all": 4, "printed": 1}
    await page.screenshot(path=server.screenshot_path("new-orders"), full_page=True)

    # ... and back to not printed.
    await card.get_by_test_id("mark-not-printed").click()
    await expect(card.get_by_test_id("order-status")).to_have_text("Not printed")
    await expect(page.get_by_test_id("count-printed")).to_have_text("0")

    # The full-size photo, with a Print button.
    await card.get_by_test_id("open-photo").click()
    await expect(page).to_have_url(re.compile(r"/dashboard/orders/[0-9a-f-]{36}$"))
    photo = page.get_by_test_id("full-photo")
    await expect(photo).to_have_js_property("complete", True)
    assert await photo.evaluate("img => img.naturalWidth") == 600
    await page.evaluate("window.print = () => { window.__printed = true }")
    await page.get_by_test_id("print").click()
    assert await page.evaluate("window.__printed") is True
    await page.get_by_test_id("mark-printed").click()
    await expect(page.get_by_test_id("order-status")).to_contain_text("Printed")
    await page.screenshot(path=server.screenshot_path("full-photo"), full_page=True)
    orders = (await api.get("/partner/orders/new", headers=partner)).json()
    assert [o["status"] for o in orders if o["customerName"] == "Noa Levi"] == ["printed"]


async def test_history_pages(server: DashboardServer, page: Page, api: httpx.AsyncClient) -> None:
    shop = await make_partner_shop(server, api, ("Kiosk #1", "Kiosk #2"))
    partner = await bearer(api, shop.email)
    noa = await post_order(api, shop.kiosks[0], "Noa Levi", "noa@example.com")
    await post_order(api, shop.kiosks[1], "Marie Curie", "marie@example.com", COLOURS[0])
    for i in range(20):
        await post_order(api, shop.kiosks[i % 2], f"Walk-in {i:02d}", colour=COLOURS[i % 6])
    resp = await api.post(
        f"/partner/orders/{noa['id']}/mark", json={"status": "printed"}, headers=partner
    )
    assert resp.status_code == 200

    await sign_in(page, server, shop.email)
    await page.get_by_role("link", name="Orders history").click()
    rows = page.get_by_test_id("history-row")
    await expect(rows).to_have_count(20)
    await expect(page.get_by_test_id("page-info")).to_have_text("Page 1 of 2 · total: 22")
    await page.screenshot(path=server.screenshot_path("history"), full_page=True)
    await page.get_by_test_id("next-page").click()
    await expect(rows).to_have_count(2)
    await expect(page.get_by_test_id("page-info")).to_have_text("Page 2 of 2 · total: 22")

    # Marking from the history row updates that row.
    await page.goto(f"{server.base_url}/dashboard/orders?customerName=Marie")
    await rows.first.get_by_test_id("mark-printed").click()
    await expect(rows.first.get_by_test_id("order-status")).to_contain_text("Printed")
    await expect(page.get_by_test_id("page-info")).to_have_text("Page 1 of 1 · total: 1")


async def test_history_filters(  # noqa: PLR0915 - one walk through every filter
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    shop = await make_partner_shop(server, api, ("Kiosk #1", "Kiosk #2"))
    partner = await bearer(api, shop.email)
    noa = await post_order(api, shop.kiosks[0], "Noa Levi", "noa@example.com")
    await post_order(api, shop.kiosks[1], "Marie Curie", "marie@example.com", COLOURS[0])
    for i in range(8):
        await post_order(api, shop.kiosks[i % 2], f"Walk-in {i:02d}", colour=COLOURS[i % 6])
    resp = await api.post(
        f"/partner/orders/{noa['id']}/mark", json={"status": "printed"}, headers=partner
    )
    assert resp.status_code == 200
    await sign_in(page, server, shop.email)
    rows = page.get_by_test_id("history-row")
    form = page.get_by_test_id("filters")

    await page.goto(f"{server.base_url}/dashboard/orders")
    await expect(rows).to_have_count(10)
    more = form.get_by_test_id("more-filters").locator("summary")
    await more.click()
    await form.locator("select[name=status]").select_option("printed")
    await page.get_by_test_id("apply-filters").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Noa Levi")

    await page.get_by_role("button", name="Reset").click()
    await more.click()
    await form.locator("input[name=customerName]").fill("mARie")
    await page.get_by_test_id("apply-filters").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Marie Curie")
    await expect(rows.first).to_contain_text("Kiosk #2")

    await page.goto(f"{server.base_url}/dashboard/orders")
    await more.click()
    await form.locator("input[name=customerEmail]").fill("noa@example.com")
    await page.get_by_test_id("apply-filters").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Noa Levi")

    await page.goto(f"{server.base_url}/dashboard/orders")
    await more.click()
    await form.locator("select[name=kioskId]").select_option(label="Kiosk #2")
    await form.locator("select[name=status]").select_option("not_printed")
    await page.get_by_test_id("apply-filters").click()
    await expect(rows).to_have_count(5)
    await expect(page.get_by_test_id("page-info")).to_have_text("Page 1 of 1 · total: 5")

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    await page.goto(f"{server.base_url}/dashboard/orders")
    await more.click()
    await form.locator("input[name=dateFrom]").fill(tomorrow)
    await page.get_by_test_id("apply-filters").click()
    await expect(page.get_by_test_id("no-orders")).to_be_visible()
    today = datetime.now(UTC).date().isoformat()
    await form.locator("input[name=dateFrom]").fill(today)
    await form.locator("input[name=dateTo]").fill(today)
    await page.get_by_test_id("apply-filters").click()
    await expect(page.get_by_test_id("page-info")).to_have_text("Page 1 of 1 · total: 10")

    # A bad value in the address gives a message, not an error page.
    await page.goto(f"{server.base_url}/dashboard/orders?dateFrom=yesterday&status=lost")
    await expect(page.get_by_role("alert")).to_have_text("Some of the values sent are not valid.")
    await expect(rows).to_have_count(10)


async def test_kiosks_code_error_status_and_language(  # noqa: PLR0915 - one kiosk's story
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    shop = await make_partner_shop(server, api, ("Kiosk #1", "Kiosk #2"))
    broken, quiet = shop.kiosks
    assert (await api.post(f"/kiosk/{broken.id}/heartbeat", headers=broken.headers)).is_success
    resp = await api.post(
        f"/kiosk/{broken.id}/errors",
        json={"code": "B2", "message": "Paper jam detected"},
        headers=broken.headers,
    )
    assert resp.status_code == 201

    await sign_in(page, server, shop.email)
    await page.get_by_role("link", name="Kiosks").click()
    card = page.locator(f"#kiosk-{broken.id}")
    other = page.locator(f"#kiosk-{quiet.id}")
    await expect(card.get_by_test_id("kiosk-status")).to_have_text("Error")
    await expect(card.get_by_test_id("kiosk-online")).to_contain_text("Online")
    await expect(other.get_by_test_id("kiosk-online")).to_contain_text("Offline")
    await expect(other.get_by_test_id("kiosk-status")).to_have_text("Active")
    await expect(card.get_by_test_id("error-list")).to_contain_text("B2 Paper jam detected")

    # A code for the broken kiosk is an error compensation, shown large (after a
    # confirmation that says which type it will be).
    await card.get_by_test_id("issue-code").click()
    await expect(card.get_by_test_id("issue-code-box")).to_contain_text("Error compensation")
    await card.get_by_test_id("confirm-issue-code").click()
    code = card.get_by_test_id("code-value")
    await expect(code).to_have_text(re.compile(r"^\d{4}$"))
    await expect(card.get_by_test_id("code-type")).to_have_text("Error compensation")
    await expect(card.get_by_test_id("code-box")).to_contain_text("Valid until")
    assert await code.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 40
    await other.get_by_test_id("issue-code").click()
    await other.get_by_test_id("confirm-issue-code").click()
    await expect(other.get_by_test_id("code-type")).to_have_text("Cash")
    await page.screenshot(path=server.screenshot_path("kiosks"), full_page=True)
    # The code works at the kiosk.
    resp = await api.post(
        f"/kiosk/{broken.id}/code/redeem",
        json={"code": await code.inner_text()},
        headers=broken.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "error"

    await card.get_by_test_id("clear-error").click()
    await expect(card.get_by_test_id("kiosk-status")).to_have_text("Active")
    await expect(card.get_by_test_id("current-error")).to_have_count(0)
    await expect(card.get_by_test_id("error-list")).to_contain_text("cleared")

    await card.get_by_test_id("status-select").select_option("inactive")
    await card.get_by_test_id("save-status").click()
    await expect(card.get_by_test_id("kiosk-status")).to_have_text("Inactive")

    await card.get_by_test_id("language-select").select_option("fr")
    # "Saved." may still show from the status change: wait for this form's own answer.
    async with page.expect_response(lambda r: r.url.endswith("/language")) as answer:
        await card.get_by_test_id("save-language").click()
    assert (await answer.value).ok
    await expect(card.get_by_role("status")).to_have_text("Saved.")
    partner = await bearer(api, shop.email)
    detail = (await api.get(f"/partner/kiosks/{broken.id}", headers=partner)).json()
    assert detail["status"] == "inactive"
    assert detail["lastErrorCode"] is None
    assert detail["settings"] == {"defaultLanguage": "fr", "pricePerRound": None, "currency": None}

    # An unsupported language (a tampered form) is a readable message on the page.
    await card.locator("select[name=language] option[value=fr]").evaluate("o => { o.value = 'xx' }")
    await card.get_by_test_id("language-select").select_option("xx")
    await card.get_by_test_id("save-language").click()
    await expect(page.locator("#flash")).to_have_text("Some of the values sent are not valid.")

    await card.get_by_test_id("kiosk-name").click()
    await expect(page).to_have_url(f"{server.base_url}/dashboard/kiosks/{broken.id}")
    await expect(page.get_by_test_id("error-list")).to_contain_text("B2")


async def test_hebrew_interface_is_right_to_left(
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    shop = await make_partner_shop(server, api)
    await post_order(api, shop.kiosks[0], "נועה לוי", "noa@example.com", COLOURS[3])
    await post_order(api, shop.kiosks[0], "Marie Curie", colour=COLOURS[1])
    await sign_in(page, server, shop.email)
    html = page.locator("html")
    await expect(html).to_have_attribute("dir", "ltr")

    await page.get_by_test_id("lang-he").click()
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(html).to_have_attribute("lang", "he")
    await expect(page).to_have_url(f"{server.base_url}/dashboard")
    await expect(page.get_by_role("link", name="הזמנות חדשות")).to_be_visible()
    await expect(page.get_by_test_id("mark-printed").first).to_have_text("סמן כמודפס")
    # The live refresh keeps the language.
    await post_order(api, shop.kiosks[0], "Carlos Ruiz", colour=COLOURS[2])
    await expect(page.get_by_test_id("order-card")).to_have_count(3)
    await expect(page.get_by_test_id("order-card").first).to_contain_text("הרגע")
    await page.screenshot(path=server.screenshot_path("hebrew"), full_page=True)

    await page.get_by_role("link", name="קיוסקים").click()
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(page.get_by_test_id("issue-code")).to_contain_text("קוד לסבב חינם")

    await page.get_by_test_id("lang-en").click()
    await expect(html).to_have_attribute("dir", "ltr")
    await expect(page).to_have_url(f"{server.base_url}/dashboard/kiosks")


async def test_logout_ends_the_session(
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    shop = await make_partner_shop(server, api)
    await sign_in(page, server, shop.email)
    token = next(c["value"] for c in await page.context.cookies() if c["name"] == "iwm_session")
    resp = await api.get("/partner/orders/new", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200

    await page.get_by_test_id("logout").click()
    await expect(page).to_have_url(re.compile(r"/dashboard/login"))
    await expect(page.get_by_test_id("login-notice")).to_have_text("You have been signed out.")
    assert "iwm_session" not in {c["name"] for c in await page.context.cookies()}

    # The old token is gone from the session store: as cookie and as Bearer token.
    async with httpx.AsyncClient(
        base_url=server.base_url, cookies={"iwm_session": token}
    ) as old_cookie:
        old = await old_cookie.get("/dashboard")
    assert old.status_code == 303
    assert old.headers["location"].startswith("/dashboard/login")
    resp = await api.get("/partner/orders/new", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    await page.goto(f"{server.base_url}/dashboard/kiosks")
    await expect(page).to_have_url(re.compile(r"/dashboard/login\?next=/dashboard/kiosks"))


async def test_expired_session_sends_the_open_page_to_login(
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    shop = await make_partner_shop(server, api)
    await sign_in(page, server, shop.email)
    token = next(c["value"] for c in await page.context.cookies() if c["name"] == "iwm_session")
    # The session ends elsewhere (here: through the API) while the page keeps polling.
    resp = await api.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    await expect(page).to_have_url(re.compile(r"/dashboard/login\?expired=1"))
    await expect(page.get_by_test_id("login-notice")).to_have_text(
        "Your session has expired. Please sign in again."
    )


async def test_partners_see_only_their_own(
    server: DashboardServer, context: BrowserContext, api: httpx.AsyncClient
) -> None:
    shop_a = await make_partner_shop(server, api, ("Alpha Kiosk",))
    shop_b = await make_partner_shop(server, api, ("Bravo Kiosk",))
    order_a = await post_order(api, shop_a.kiosks[0], "Alice of A", "alice@example.com")
    await post_order(api, shop_b.kiosks[0], "Bob of B", "bob@example.com")

    page = await context.new_page()
    await sign_in(page, server, shop_b.email)
    await expect(page.get_by_test_id("order-card")).to_have_count(1)
    await expect(page.get_by_test_id("order-card")).to_contain_text("Bob of B")
    await expect(page.get_by_text("Alice of A")).to_have_count(0)

    await page.goto(f"{server.base_url}/dashboard/orders")
    await expect(page.get_by_test_id("history-row")).to_have_count(1)
    await expect(page.locator("main")).not_to_contain_text("Alice")
    await expect(page.locator("select[name=kioskId] option")).to_have_text(
        ["All kiosks", "Bravo Kiosk"]
    )
    await page.goto(f"{server.base_url}/dashboard/orders?customerName=Alice")
    await expect(page.get_by_test_id("no-orders")).to_be_visible()
    # Even with A's kiosk id in the filter, nothing of A's shows.
    await page.goto(f"{server.base_url}/dashboard/orders?kioskId={shop_a.kiosks[0].id}")
    await expect(page.get_by_test_id("no-orders")).to_be_visible()

    await page.goto(f"{server.base_url}/dashboard/kiosks")
    await expect(page.get_by_test_id("kiosk-card")).to_have_count(1)
    await expect(page.locator("main")).not_to_contain_text("Alpha Kiosk")

    resp = await page.goto(f"{server.base_url}/dashboard/orders/{order_a['id']}")
    assert resp is not None
    assert resp.status == 404
    await expect(page.get_by_test_id("error-message")).to_have_text(
        "This order does not exist or is not yours."
    )
    await expect(page.locator("img")).to_have_count(0)
    resp = await page.goto(f"{server.base_url}/dashboard/kiosks/{shop_a.kiosks[0].id}")
    assert resp is not None
    assert resp.status == 404
    await expect(page.get_by_test_id("error-message")).to_have_text(
        "This kiosk does not exist or is not yours."
    )

    # Actions on A's objects with B's valid session and CSRF token: 404, nothing changes.
    csrf = next(c["value"] for c in await context.cookies() if c["name"] == "iwm_csrf")
    resp_mark = await page.request.post(
        f"{server.base_url}/dashboard/orders/{order_a['id']}/mark",
        form={"status": "printed"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp_mark.status == 404
    resp_code = await page.request.post(
        f"{server.base_url}/dashboard/kiosks/{shop_a.kiosks[0].id}/code",
        headers={"X-CSRF-Token": csrf},
    )
    assert resp_code.status == 404
    partner_a = await bearer(api, shop_a.email)
    order = (await api.get(f"/partner/orders/{order_a['id']}", headers=partner_a)).json()
    assert order["status"] == "not_printed"


async def test_state_changes_need_the_csrf_token(
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    shop = await make_partner_shop(server, api)
    order = await post_order(api, shop.kiosks[0], "John Doe", "john@example.com")
    await sign_in(page, server, shop.email)
    url = f"{server.base_url}/dashboard/orders/{order['id']}/mark"

    # The browser sends the session cookie, but no token / a wrong token: refused.
    missing = await page.request.post(url, form={"status": "printed"})
    assert missing.status == 403
    assert "form has expired" in await missing.text()
    wrong = await page.request.post(
        url, form={"status": "printed"}, headers={"X-CSRF-Token": uuid.uuid4().hex * 2}
    )
    assert wrong.status == 403
    logout = await page.request.post(f"{server.base_url}/dashboard/logout")
    assert logout.status == 403
    partner = await bearer(api, shop.email)

    async def still_not_printed() -> None:
        got = (await api.get(f"/partner/orders/{order['id']}", headers=partner)).json()
        assert got["status"] == "not_printed"

    await still_not_printed()
    await page.reload()
    await expect(page.get_by_test_id("order-card")).to_have_count(1)  # still signed in

    # The same request with the token (as htmx sends it) goes through.
    csrf = next(c["value"] for c in await page.context.cookies() if c["name"] == "iwm_csrf")
    done = await page.request.post(url, form={"status": "printed"}, headers={"X-CSRF-Token": csrf})
    assert done.status == 200

    async def printed() -> None:
        got = (await api.get(f"/partner/orders/{order['id']}", headers=partner)).json()
        assert got["status"] == "printed"

    await eventually(printed)


async def test_unknown_pages_are_readable(server: DashboardServer, page: Page) -> None:
    resp = await page.goto(f"{server.base_url}/dashboard/no-such-page")
    assert resp is not None
    assert resp.status == 404
    assert resp.headers["content-type"].startswith("text/html")
    await expect(page.get_by_test_id("error-message")).to_have_text("This page does not exist.")
