"""The shop owner's screen in a real browser: alerts, print and mark, the print queue,
order numbers and search, older unprinted orders, the sliding session and the offline
banner, the kiosk trouble strip, codes, the phone layout and local dates.

Each test runs on both server configurations, at tablet size in English and at phone
size (390 px) in Hebrew."""

import io
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import update

from iwm.core import clock
from iwm.modules.orders.models import Order
from tests.e2e.conftest import (
    COLOURS,
    ROOT,
    DashboardServer,
    bearer,
    eventually,
    make_partner_shop,
    post_order,
    scroll_to,
    sign_in,
)

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

SCREENS = {
    "tablet-en": ({"width": 1024, "height": 768}, "en"),
    "phone-he": ({"width": 390, "height": 844}, "he"),
}
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"

# Counts what the page does with the browser's sound, notifications and print dialog.
WATCH = """
window.__chimes = 0;
window.__notes = [];
window.__prints = [];
document.addEventListener('play', e => { if (e.target.id === 'chime') window.__chimes++; }, true);
const RealNotification = window.Notification;
if (RealNotification) {
  window.Notification = function (title, options) {
    window.__notes.push(title);
    return new RealNotification(title, options);
  };
  window.Notification.requestPermission = (...a) => RealNotification.requestPermission(...a);
  Object.defineProperty(window.Notification, 'permission',
                        { get: () => RealNotification.permission });
}
window.print = () => {
  const sheets = document.querySelectorAll('#print-area .print-sheet img');
  window.__prints.push({ at: Date.now(), sheets: sheets.length,
                         srcs: Array.from(sheets).map(i => i.src) });
};
"""


@pytest.fixture(params=list(SCREENS))
async def screen(
    request: pytest.FixtureRequest, browser: Browser
) -> AsyncIterator[tuple[Page, str]]:
    viewport, lang = SCREENS[request.param]
    ctx: BrowserContext = await browser.new_context(
        viewport=viewport, locale="en-GB" if lang == "en" else "he-IL", timezone_id="UTC"
    )
    ctx.set_default_timeout(15_000)
    await ctx.add_init_script(WATCH)
    page = await ctx.new_page()
    yield page, request.param
    await ctx.close()


async def open_screen(page: Page, server: DashboardServer, email: str, name: str) -> None:
    await sign_in(page, server, email)
    if SCREENS[name][1] == "he":
        await page.get_by_test_id("lang-he").click()
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")


def shot(page_name: str, server: DashboardServer, screen_name: str) -> str:
    return str(server.screenshot_path(f"{page_name}-{screen_name}"))


async def keep_screenshot(
    page: Page, server: DashboardServer, name: str, full: bool = True
) -> None:
    """Screenshots of the embedded run become the documentation's."""
    path = server.screenshot_path(name)
    await page.screenshot(path=path, full_page=full)
    if server.profile == "embedded":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SCREENSHOTS / f"dashboard-{name}.png")


async def order_status(api: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> str:
    resp = await api.get(f"/partner/orders/{order_id}", headers=headers)
    status: str = resp.json()["status"]
    return status


async def test_new_order_chimes_badges_notifies_and_stays_highlighted_until_seen(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    await page.context.grant_permissions(["notifications"], origin=server.base_url)
    shop = await make_partner_shop(server, api)
    await post_order(api, shop.kiosks[0], "Early Bird")
    await open_screen(page, server, shop.email, name)
    await expect(page.get_by_test_id("order-card")).to_have_count(1)
    # What was there when the page opened is not news.
    await expect(page.locator(".order-card.is-new")).to_have_count(0)

    # One tap turns the sound on (the browser's autoplay rule) and is remembered.
    await page.get_by_test_id("enable-sound").click()
    await expect(page.get_by_test_id("enable-sound")).to_have_attribute("aria-pressed", "true")
    # Paper, copies and notifications are set once: they are folded under the settings.
    await page.get_by_test_id("print-settings").locator("summary").click()
    await page.get_by_test_id("enable-notifications").click()
    await expect(page.get_by_test_id("enable-notifications")).to_have_attribute(
        "aria-pressed", "true"
    )
    chimes = await page.evaluate("window.__chimes")
    assert chimes >= 1  # the tap plays it once, so the owner hears what it sounds like
    await eventually(lambda: _chime_ended(page))

    order = await post_order(api, shop.kiosks[0], "Noa Levi", colour=COLOURS[1])
    card = page.locator(f"#order-{order['id']}")
    await expect(card).to_be_visible()
    await expect(card).to_have_class(re.compile(r"\bis-new\b"))
    await expect(page).to_have_title(re.compile(r"^\(1\) "))
    await eventually(lambda: _more_chimes(page, chimes))
    notes = await page.evaluate("window.__notes")
    assert notes == [
        f"New order #{order['number']}" if name.endswith("en") else f"הזמנה חדשה #{order['number']}"
    ]
    await keep_screenshot(page, server, f"new-order-{name}", full=False)

    # Seen: on screen for a few seconds while the page is in front (on a phone, once
    # scrolled to).
    await scroll_to(page, f"#order-{order['id']}")
    await expect(card).not_to_have_class(re.compile(r"\bis-new\b"), timeout=20_000)
    await expect(page).not_to_have_title(re.compile(r"^\(\d+\) "))

    # The sound choice survives a reload.
    await page.reload()
    await expect(page.get_by_test_id("enable-sound")).to_have_attribute("aria-pressed", "true")


async def _chime_ended(page: Page) -> None:
    assert await page.evaluate("document.getElementById('chime').paused")


async def _more_chimes(page: Page, before: int) -> None:
    assert await page.evaluate("window.__chimes") > before


async def test_print_and_mark_in_one_tap_print_all_and_bulk_select(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api)
    partner = await bearer(api, shop.email)
    orders = [
        await post_order(api, shop.kiosks[0], f"Customer {i}", colour=COLOURS[i]) for i in range(4)
    ]
    marks: list[float] = []
    page.on(
        "request",
        lambda r: (
            marks.append(clock.now().timestamp() * 1000)
            if r.method == "POST" and r.url.endswith("/dashboard/orders/mark")
            else None
        ),
    )
    await open_screen(page, server, shop.email, name)
    await expect(page.get_by_test_id("count-to-print")).to_have_text("4")

    # Print and mark: the photo goes to the print dialog; the mark follows its return.
    first = page.locator(f"#order-{orders[0]['id']}")
    await first.get_by_test_id("print-and-mark").click()
    await eventually(lambda: _status_is(api, partner, orders[0]["id"], "printed"))
    prints = await page.evaluate("window.__prints")
    assert len(prints) == 1
    assert prints[0]["sheets"] == 1
    # The full photo (not its thumbnail), signed for the browser.
    assert orders[0]["id"] in prints[0]["srcs"][0]
    assert ".thumb." not in prints[0]["srcs"][0]
    assert marks
    assert min(marks) >= prints[0]["at"] - 1000  # no mark before the dialog returned
    await expect(page.get_by_test_id("count-to-print")).to_have_text("3")
    await expect(page.get_by_test_id("toast")).to_be_visible()
    await keep_screenshot(page, server, f"printed-undo-{name}", full=False)

    # ... and it can be undone.
    await page.get_by_test_id("undo").click()
    await eventually(lambda: _status_is(api, partner, orders[0]["id"], "not_printed"))
    await expect(page.get_by_test_id("count-to-print")).to_have_text("4")

    # Bulk: two chosen, marked printed together.
    await page.locator(f"#order-{orders[1]['id']}").get_by_test_id("pick").check()
    await page.locator(f"#order-{orders[2]['id']}").get_by_test_id("pick").check()
    await expect(page.get_by_test_id("bulk-count")).to_contain_text("2")
    await page.get_by_test_id("mark-selected").click()
    await eventually(lambda: _status_is(api, partner, orders[2]["id"], "printed"))
    await expect(page.get_by_test_id("count-to-print")).to_have_text("2")

    # Print all unprinted: one print job with every unprinted photo, then all marked.
    await page.get_by_test_id("print-settings").locator("summary").click()
    await page.get_by_test_id("copies").fill("2")
    await page.get_by_test_id("copies").dispatch_event("change")
    await page.get_by_test_id("print-all").click()
    await eventually(lambda: _status_is(api, partner, orders[3]["id"], "printed"))
    prints = await page.evaluate("window.__prints")
    assert len(prints) == 2
    assert prints[1]["sheets"] == 4  # two orders, two copies each
    await expect(page.get_by_test_id("count-to-print")).to_have_text("0")
    statuses = {o["id"]: await order_status(api, partner, o["id"]) for o in orders}
    assert set(statuses.values()) == {"printed"}


async def test_print_and_mark_keeps_the_owner_where_he_was(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api)
    partner = await bearer(api, shop.email)
    orders = [
        await post_order(api, shop.kiosks[0], f"Queue {i}", colour=COLOURS[i % len(COLOURS)])
        for i in range(10)
    ]
    await open_screen(page, server, shop.email, name)
    await expect(page.get_by_test_id("count-to-print")).to_have_text("10")
    card = page.locator(f"#order-{orders[6]['id']}")
    await scroll_to(page, f"#order-{orders[6]['id']}")
    before = await page.evaluate("window.scrollY")
    assert before > 0
    await card.get_by_test_id("print-and-mark").click()
    await eventually(lambda: _status_is(api, partner, orders[6]["id"], "printed"))
    await expect(page.get_by_test_id("count-to-print")).to_have_text("9")

    # The printed card moves to the end of the queue; the screen does not follow it there.
    # The queue may be swapped more than once for one mark (the mark's own answer, then
    # the live event): where the owner is left is what counts.
    async def left_where_he_was() -> None:
        assert abs(await page.evaluate("window.scrollY") - before) < 50

    await eventually(left_where_he_was, 5.0)


async def _status_is(api: httpx.AsyncClient, headers: dict[str, str], oid: str, want: str) -> None:
    assert await order_status(api, headers, oid) == want


async def test_queue_unprinted_oldest_first_with_a_to_print_counter(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api)
    partner = await bearer(api, shop.email)
    names = ["First In", "Second In", "Third In", "Fourth In"]
    orders = [
        await post_order(api, shop.kiosks[0], n, colour=COLOURS[i]) for i, n in enumerate(names)
    ]
    resp = await api.post(
        f"/partner/orders/{orders[1]['id']}/mark", json={"status": "printed"}, headers=partner
    )
    assert resp.status_code == 200
    await open_screen(page, server, shop.email, name)
    cards = page.get_by_test_id("order-card")
    await expect(cards.get_by_test_id("customer-name")).to_have_text(
        ["First In", "Third In", "Fourth In", "Second In"]
    )
    await expect(page.get_by_test_id("count-to-print")).to_have_text("3")
    await expect(page.get_by_test_id("count-all")).to_have_text("4")
    await expect(page.get_by_test_id("count-printed")).to_have_text("1")
    await keep_screenshot(page, server, f"new-orders-{name}")


async def test_number_and_phone_on_cards_and_one_search_box(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api, ("Kiosk #1", "Kiosk #2"))
    noa = await post_order(
        api, shop.kiosks[0], "Noa Levi", "noa@example.com", phone="+972 50-111-2233"
    )
    dan = await post_order(
        api, shop.kiosks[1], "Dan Cohen", "dan@example.com", phone="052 765 4321"
    )
    assert (noa["number"], dan["number"]) == (1, 2)
    await open_screen(page, server, shop.email, name)
    card = page.locator(f"#order-{dan['id']}")
    await expect(card.get_by_test_id("order-number")).to_have_text("#2")
    await expect(card.get_by_test_id("customer-phone")).to_have_text("052 765 4321")

    for query, found in [
        ("7654321", "Dan Cohen"),
        ("#1", "Noa Levi"),
        ("noa@", "Noa Levi"),
        ("cohen", "Dan Cohen"),
    ]:
        await page.get_by_role("link", name=re.compile("New orders|הזמנות חדשות")).click()
        await page.get_by_test_id("search").fill(query)
        await page.get_by_test_id("search").press("Enter")
        rows = page.get_by_test_id("history-row")
        await expect(rows).to_have_count(1)
        await expect(rows.first.get_by_test_id("customer-name")).to_have_text(found)
    await expect(rows.first.get_by_test_id("order-number")).to_have_text("#2")
    await expect(rows.first.get_by_test_id("customer-phone")).to_have_text("052 765 4321")
    await keep_screenshot(page, server, f"search-{name}")


async def test_older_unprinted_orders_have_their_own_view(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api)
    partner = await bearer(api, shop.email)
    old = await post_order(api, shop.kiosks[0], "Forgotten Order")
    await post_order(api, shop.kiosks[0], "Fresh Order")
    assert server.resources is not None
    async with server.resources.sessionmaker.begin() as db:
        await db.execute(
            update(Order)
            .where(Order.id == uuid.UUID(old["id"]))
            .values(created_at=clock.now() - timedelta(hours=5))
        )
    await open_screen(page, server, shop.email, name)
    await expect(page.get_by_test_id("order-card")).to_have_count(1)
    await page.get_by_test_id("older-unprinted").click()
    await expect(page).to_have_url(re.compile(r"/dashboard/orders/older$"))
    rows = page.get_by_test_id("history-row")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Forgotten Order")
    await keep_screenshot(page, server, f"older-unprinted-{name}")
    await rows.first.get_by_test_id("print-and-mark").click()
    await eventually(lambda: _status_is(api, partner, old["id"], "printed"))
    await expect(page.get_by_test_id("no-orders")).to_be_visible()


async def test_session_slides_and_the_live_view_says_when_offline(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api)
    await open_screen(page, server, shop.email, name)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "iwm_session")
    # Renewed by use: the first pages moved its end to the idle time ahead (12 h), past
    # the 8 h of a plain sign in.
    assert cookie["expires"] > clock.now().timestamp() + 11 * 3600
    assert server.resources is not None
    from iwm.core.security import token_hash

    stored = await server.resources.sessions.get(token_hash(cookie["value"]))
    assert stored is not None
    assert stored.expires_at > clock.now() + timedelta(hours=11)

    await expect(page.get_by_test_id("offline")).to_be_hidden()
    await page.context.set_offline(True)
    await expect(page.get_by_test_id("offline")).to_be_visible(timeout=30_000)
    await keep_screenshot(page, server, f"offline-{name}", full=False)
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("offline")).to_be_hidden(timeout=30_000)
    # Back online, it catches up with what happened meanwhile.
    await post_order(api, shop.kiosks[0], "While Away")
    await expect(page.get_by_test_id("order-card")).to_have_count(1)


async def test_trouble_strip_on_every_page_updates_itself_with_the_message(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api, ("Kiosk #1", "Kiosk #2"))
    for k in shop.kiosks:
        assert (await api.post(f"/kiosk/{k.id}/heartbeat", headers=k.headers)).is_success
    partner = await bearer(api, shop.email)

    async def all_online() -> None:
        kiosks = (await api.get("/partner/kiosks", headers=partner)).json()
        assert [k["online"] for k in kiosks] == [True, True]

    await eventually(all_online)  # heartbeats are written once a second
    await open_screen(page, server, shop.email, name)
    await expect(page.get_by_test_id("trouble-item")).to_have_count(0)
    resp = await api.post(
        f"/kiosk/{shop.kiosks[1].id}/errors",
        json={"code": "C07", "message": "Printer out of paper"},
        headers=shop.kiosks[1].headers,
    )
    assert resp.status_code == 201
    item = page.get_by_test_id("trouble-item")
    await expect(item).to_contain_text("Kiosk #2")
    await expect(item).to_contain_text("C07")
    await expect(item).to_contain_text("Printer out of paper")
    await keep_screenshot(page, server, f"trouble-{name}", full=False)
    for path in ("/dashboard/orders", "/dashboard/kiosks"):
        await page.goto(f"{server.base_url}{path}")
        await expect(page.get_by_test_id("trouble-item")).to_contain_text("Printer out of paper")
    await page.locator(f"#kiosk-{shop.kiosks[1].id}").get_by_test_id("clear-error").click()
    await expect(page.get_by_test_id("trouble-item")).to_have_count(0, timeout=30_000)


async def test_codes_are_confirmed_explained_and_listed_and_error_is_not_a_choice(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api)
    kiosk = shop.kiosks[0]
    await open_screen(page, server, shop.email, name)
    await page.goto(f"{server.base_url}/dashboard/kiosks")
    card = page.locator(f"#kiosk-{kiosk.id}")
    await expect(
        card.get_by_test_id("status-select").locator("option:not([disabled])")
    ).to_have_count(2)
    assert "error" not in await card.get_by_test_id("status-select").locator("option").evaluate_all(
        "os => os.map(o => o.value)"
    )
    await card.get_by_test_id("issue-code").click()
    confirm = card.get_by_test_id("confirm-issue-code")
    await expect(confirm).to_be_visible()
    await expect(card.get_by_test_id("issue-code-box")).to_contain_text(
        "cash" if name.endswith("en") else "מזומן"
    )
    await expect(card.get_by_test_id("code-box")).to_have_count(0)  # nothing issued yet
    await confirm.click()
    code = card.get_by_test_id("code-value")
    await expect(code).to_have_text(re.compile(r"^\d{4}$"))
    await expect(card.get_by_test_id("code-type-help")).to_be_visible()
    value = await code.inner_text()
    await keep_screenshot(page, server, f"kiosks-{name}")
    # After a reload the code is still listed, with its state.
    await page.reload()
    rows = page.locator(f"#kiosk-{kiosk.id}").get_by_test_id("code-row")
    await page.locator(f"#kiosk-{kiosk.id}").get_by_test_id("codes").locator("summary").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(value)
    await expect(rows.first.locator(".code-state.unused")).to_be_visible()
    redeem = await api.post(
        f"/kiosk/{kiosk.id}/code/redeem", json={"code": value}, headers=kiosk.headers
    )
    assert redeem.status_code == 200
    await page.reload()
    await page.locator(f"#kiosk-{kiosk.id}").get_by_test_id("codes").locator("summary").click()
    await expect(rows.first.locator(".code-state.used")).to_be_visible()


async def test_layout_marks_photos_dates_and_logout(
    server: DashboardServer, screen: tuple[Page, str], api: httpx.AsyncClient
) -> None:
    page, name = screen
    shop = await make_partner_shop(server, api, timezone="Asia/Jerusalem")
    partner = await bearer(api, shop.email)
    portrait = io.BytesIO()
    Image.new("RGB", (400, 600), "#264653").save(portrait, "JPEG")
    tall = await post_order(api, shop.kiosks[0], "Tall Photo", photo=portrait.getvalue())
    for i in range(6):
        await post_order(api, shop.kiosks[0], f"Walk-in {i}", colour=COLOURS[i])
    resp = await api.post(
        f"/partner/orders/{tall['id']}/mark", json={"status": "printed"}, headers=partner
    )
    assert resp.status_code == 200
    await open_screen(page, server, shop.email, name)
    card = page.locator(f"#order-{tall['id']}")
    # A portrait photo is shown whole, not cut to the card's shape.
    thumb = card.locator(".thumb img")
    await scroll_to(page, f"#order-{tall['id']} .thumb img")
    await expect(thumb).to_have_js_property("complete", True)
    assert await thumb.evaluate("i => getComputedStyle(i).objectFit") == "contain"
    # "Mark not printed" looks like a button that works.
    undo = card.get_by_test_id("mark-not-printed")
    assert await undo.evaluate("b => getComputedStyle(b).opacity") == "1"
    assert await undo.is_enabled()
    # The shop's time zone and the language's conventions: day first, 24-hour clock.
    stamp = await card.locator("time[data-local]").inner_text()
    assert not re.search(r"AM|PM", stamp), stamp
    assert await card.locator("time[data-local]").get_attribute("data-tz") == "Asia/Jerusalem"
    # Log out is in the header; the language buttons are in the footer.
    assert await page.locator("header [data-testid=logout]").count() == 1
    assert await page.locator("header [data-testid^=lang-]").count() == 0
    width = SCREENS[name][0]["width"]
    if width < 600:
        # Phone: the header scrolls away and is short; filters folded; history as cards.
        header = page.locator("header.topbar")
        assert await header.evaluate("h => getComputedStyle(h).position") == "static"
        assert (await header.bounding_box() or {"height": 999})["height"] < 130
        await page.goto(f"{server.base_url}/dashboard/orders")
        await expect(page.get_by_test_id("more-filters")).not_to_have_attribute("open", "")
        row = page.get_by_test_id("history-row").first
        assert await row.evaluate("r => getComputedStyle(r).display") == "grid"
        overflow = await page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, overflow
        await expect(row.get_by_test_id("order-status")).to_be_in_viewport()
        await keep_screenshot(page, server, f"history-{name}")
    else:
        await page.goto(f"{server.base_url}/dashboard/orders")
        await keep_screenshot(page, server, f"history-{name}")
