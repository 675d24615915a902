"""The redeem failure limit is one atomic step per attempt, counts ASCII codes only, and
lets a code the partner issued after a lockout began through."""

import asyncio
from datetime import timedelta

import httpx
import pytest

from iwm.core import clock
from iwm.core.resources import Resources
from tests.factories.kiosk_network import KioskHandle, login, make_world


async def _redeem(client: httpx.AsyncClient, kiosk: KioskHandle, code: str) -> httpx.Response:
    return await client.post(
        f"/kiosk/{kiosk.id}/code/redeem", headers=kiosk.headers, json={"code": code}
    )


async def _issue(client: httpx.AsyncClient, headers: dict[str, str], kiosk: KioskHandle) -> str:
    resp = await client.post(f"/partner/kiosks/{kiosk.id}/code", headers=headers)
    assert resp.status_code == 201, resp.text
    code: str = resp.json()["code"]
    return code


def _wrong(*live: str) -> list[str]:
    return [f"{n:04d}" for n in range(10_000) if f"{n:04d}" not in live]


# Fullwidth, Arabic-Indic, Devanagari digits, and one fullwidth digit among ASCII ones.
@pytest.mark.parametrize(
    "code",
    [
        "\uff11\uff12\uff13\uff14",
        "\u0661\u0662\u0663\u0664",
        "\u0967\u0968\u0969\u096a",
        "12\uff134",
    ],
)
async def test_only_ascii_digits(
    client: httpx.AsyncClient, resources: Resources, code: str
) -> None:
    world = await make_world(resources)
    resp = await _redeem(client, world.kiosks[0], code)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_a_burst_of_wrong_codes_passes_at_most_the_limit(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    allowed = resources.settings.redeem_failures_allowed
    guesses = _wrong()[:30]
    statuses = [
        r.status_code for r in await asyncio.gather(*(_redeem(client, kiosk, g) for g in guesses))
    ]
    assert statuses.count(400) == allowed, statuses
    assert statuses.count(429) == len(guesses) - allowed


async def test_a_code_issued_after_the_lockout_began_is_honoured(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    before = await _issue(client, headers, kiosk)
    allowed = resources.settings.redeem_failures_allowed
    wrong = _wrong(before)
    for guess in wrong[:allowed]:
        assert (await _redeem(client, kiosk, guess)).status_code == 400
    # Locked: more guesses, and the code issued before the lockout, are refused unjudged.
    for guess in [*wrong[allowed : allowed * 3], before]:
        assert (await _redeem(client, kiosk, guess)).status_code == 429
    clock.travel(timedelta(seconds=1))
    fresh = await _issue(client, headers, kiosk)
    resp = await _redeem(client, kiosk, fresh)
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "cash"
    assert (await _redeem(client, kiosk, before)).status_code == 429  # still locked
    # When the window has passed, the old code works again.
    clock.travel(timedelta(seconds=resources.settings.redeem_failure_window_seconds + 1))
    assert (await _redeem(client, kiosk, before)).status_code == 200


async def test_guessing_during_a_lockout_is_limited_too(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    allowed = resources.settings.redeem_failures_allowed
    for guess in _wrong()[:allowed]:
        assert (await _redeem(client, kiosk, guess)).status_code == 400
    clock.travel(timedelta(seconds=1))
    fresh = await _issue(client, headers, kiosk)
    # With a fresh code live, guesses are judged again, as many as outside a lockout;
    # after that even the fresh code waits for the window.
    for guess in _wrong(fresh)[: allowed * 2]:
        assert (await _redeem(client, kiosk, guess)).status_code == 429
    assert (await _redeem(client, kiosk, fresh)).status_code == 429


async def test_redeeming_a_used_code_is_no_failure(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    code = await _issue(client, headers, kiosk)
    assert (await _redeem(client, kiosk, code)).status_code == 200
    for _ in range(resources.settings.redeem_failures_allowed * 2):
        assert (await _redeem(client, kiosk, code)).status_code == 409
    other = await _issue(client, headers, kiosk)
    assert (await _redeem(client, kiosk, other)).status_code == 200
