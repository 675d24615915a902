"""The dashboard's safety headers as a browser sees them: nothing of the orders page is
left to the Back button after sign out, and the dashboard works whole under its
Content-Security-Policy."""

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import (
    COLOURS,
    DashboardServer,
    make_partner_shop,
    post_order,
    sign_in,
)

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)

# Recorded before any page script runs (Playwright's init scripts are not subject to the
# page's policy).
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def _watch(page: Page) -> list[str]:
    messages: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            messages.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: messages.append(str(exc)))
    return messages


async def _violations(page: Page) -> list[Any]:
    found: list[Any] = await page.evaluate("window.__cspViolations || []")
    return found


async def test_back_after_sign_out_does_not_show_the_orders(
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    shop = await make_partner_shop(server, api)
    await post_order(api, shop.kiosks[0], "Yael Mizrahi", "yael@example.com", COLOURS[1])
    await sign_in(page, server, shop.email)
    card = page.get_by_test_id("order-card").filter(has_text="Yael Mizrahi")
    await expect(card).to_be_visible()
    await page.get_by_role("link", name="History").click()
    await expect(page.get_by_test_id("history-row").filter(has_text="Yael Mizrahi")).to_be_visible()

    await page.get_by_test_id("logout").click()
    await expect(page).to_have_url(re.compile(r"/dashboard/login"))
    await page.go_back()
    # The page is asked for again (nothing of it was stored), and without a session the
    # server sends the browser to sign in.
    await expect(page).to_have_url(re.compile(r"/dashboard/login"))
    await expect(page.get_by_text("Yael Mizrahi")).to_have_count(0)
    await expect(page.locator("input[name=password]")).to_be_visible()
    await page.go_back()
    await expect(page.get_by_text("Yael Mizrahi")).to_have_count(0)


async def test_the_dashboard_works_under_its_content_security_policy(
    server: DashboardServer, page: Page, api: httpx.AsyncClient
) -> None:
    await page.add_init_script(WATCH_VIOLATIONS)
    errors = _watch(page)
    shop = await make_partner_shop(server, api, ("Kiosk #1", "Kiosk #2"))
    await post_order(api, shop.kiosks[0], "Dana Cohen", "dana@example.com", COLOURS[0])

    response = await page.goto(f"{server.base_url}/dashboard/login")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["cache-control"] == "no-store"
    await sign_in(page, server, shop.email)

    # Scripts run: htmx marks the order printed without a reload, dashboard.js rewrites the
    # times in local time, and the photo loads.
    await page.evaluate("window.__sameDocument = true")
    card = page.get_by_test_id("order-card").filter(has_text="Dana Cohen")
    await expect(card).to_be_visible()
    await card.get_by_test_id("mark-printed").click()
    await expect(card.get_by_test_id("order-status")).to_contain_text("Printed")
    assert await page.evaluate("window.__sameDocument") is True
    # The card was swapped in by htmx: its photo loads after it, from the store.
    photo = await card.locator("img").element_handle()
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo, timeout=15_000
    )
    # A new order appears by itself (htmx polling).
    await post_order(api, shop.kiosks[0], "Omer Katz", colour=COLOURS[3])
    await expect(page.get_by_test_id("order-card").filter(has_text="Omer Katz")).to_be_visible()
    # Styles apply (Pico's and the dashboard's own files).
    button = page.get_by_test_id("logout")
    assert await button.evaluate("b => getComputedStyle(b).cursor") == "pointer"

    await page.get_by_role("link", name="Kiosks").click()
    await page.get_by_test_id("issue-code").first.click()
    await page.get_by_test_id("confirm-issue-code").first.click()
    await expect(page.get_by_test_id("code-value").first).to_have_text(re.compile(r"^\d{4}$"))
    await page.get_by_role("link", name="History").click()
    await expect(page.get_by_test_id("history-row")).to_have_count(2)

    assert await _violations(page) == []
    assert [m for m in errors if "Content Security Policy" in m] == []
    assert errors == []
