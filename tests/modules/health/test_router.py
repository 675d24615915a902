from collections.abc import AsyncIterator

import httpx


async def test_healthz_and_readyz(client: httpx.AsyncClient, is_production: bool) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    checks = ready.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert all(part["status"] == "ok" for part in checks.values())
    assert ("redis" in checks) is is_production


async def test_unknown_route_uses_error_format(client: httpx.AsyncClient) -> None:
    resp = await client.get("/no/such/route")
    assert resp.status_code == 404
    assert resp.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "Not Found", "details": {}},
    }
    assert resp.headers["x-request-id"]


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/partner/orders/new" in spec["paths"]
    assert "/kiosk/{kiosk_id}/code/redeem" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_head_on_healthz(client: httpx.AsyncClient) -> None:
    assert (await client.head("/healthz")).status_code == 200


async def test_malformed_json_is_reported_on_body(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert list(resp.json()["error"]["details"]) == ["body"]


async def test_a_body_past_the_limit_is_413_in_the_error_format(
    client: httpx.AsyncClient,
) -> None:
    big = b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    declared = await client.post(
        "/auth/login", content=big, headers={"content-type": "application/json"}
    )
    streamed = await client.post(
        "/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    for resp in (declared, streamed):
        assert resp.status_code == 413
        assert resp.json()["success"] is False
        assert resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert resp.headers["x-request-id"]
    small = await client.post("/auth/login", json={"email": "a@b.example", "password": "x"})
    assert small.status_code == 401  # an ordinary body still reaches the endpoint
