"""The OpenAPI document, checked over every operation: security, the error format on each
error status (400, never 422), unique stable ids, readable schema names, formats."""

import re
import uuid
from typing import Any

import httpx
import pytest

from iwm.core.config import Settings
from iwm.main import create_app

METHODS = {"get", "put", "post", "patch", "delete", "head"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    return app.openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


async def test_security_schemes_cover_every_authenticated_operation(
    client: httpx.AsyncClient,
) -> None:
    """Judged by the server itself: every operation called without credentials answers 401
    exactly when the document says it needs them."""
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer"}
    mismatched = []
    for path, method, op in _operations(spec):
        names = {name for requirement in op.get("security", []) for name in requirement}
        if path.startswith("/kiosk/"):
            assert names == {"kioskDeviceKey"}, (method, path)
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        answer = await client.request(method.upper(), url, json={})
        if (answer.status_code == 401) != bool(names):
            mismatched.append((method, path, answer.status_code, sorted(names)))
    assert not mismatched


def test_errors_use_the_error_format_and_the_real_codes(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["success", "error"]
    for path, method, op in _operations(spec):
        responses = op["responses"]
        if "422" in responses:  # only a domain's own 422, never FastAPI's validation
            assert "IDEMPOTENCY_KEY_REUSED" in responses["422"]["description"], (method, path)
        if op.get("parameters") or op.get("requestBody"):
            assert "400" in responses, (method, path)
        if op.get("security"):
            assert {"401", "403"} <= responses.keys(), (method, path)
        assert {"500", "503"} <= responses.keys(), (method, path)
        for status, response in responses.items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, status)
                assert response["description"], (path, status)


def test_operation_ids_are_unique_and_stable(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert {
        "healthz_get",
        "healthz_head",
        "auth_login",
        "auth_me_get",
        "partner_orders_list",
        "partner_orders_new_list",
        "partner_orders_get",
        "partner_orders_mark",
        "kiosk_heartbeat",
        "kiosk_orders_create",
        "kiosk_code_redeem",
        "admin_users_list",
        "admin_users_get",
        "admin_users_suspend",
        "admin_products_update",
        "admin_products_delete",
        "admin_payouts_approve",
        "admin_payouts_reject",
    } <= set(ids)


def test_schema_names_are_readable(spec: dict[str, Any]) -> None:
    names = spec["components"]["schemas"].keys()
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", n) for n in names), [
        n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)
    ]
    assert {"UsersListStats", "NetworkListStats", "PayoutsApproveRequest"} <= names
    refs = re.findall(r"#/components/schemas/([^\"']+)", str(spec))
    assert set(refs) <= names


def test_timestamps_and_ids_carry_their_formats(spec: dict[str, Any]) -> None:
    unformatted = []
    for name, schema in spec["components"]["schemas"].items():
        for prop, sub in schema.get("properties", {}).items():
            options = [sub, *sub.get("anyOf", [])]
            strings = [o for o in options if o.get("type") == "string"]
            if prop.endswith(("At", "Time")) and not all(
                o.get("format") == "date-time" for o in strings
            ):
                unformatted.append(f"{name}.{prop}")
            if prop == "id" and not all(o.get("format") == "uuid" for o in strings):
                unformatted.append(f"{name}.{prop}")
            # Any other id or date: a format, or the pattern of what it holds (a month).
            if re.search(r"(Id|^date)$", prop) and not all(
                "format" in o or "pattern" in o for o in strings
            ):
                unformatted.append(f"{name}.{prop}")
    assert not unformatted


def test_fields_once_plain_strings_say_what_they_hold(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["HeartbeatAck"]["properties"]["serverTime"]["format"] == "date-time"
    for point in ("SalesPoint", "CommissionPoint", "KioskDay"):
        assert schemas[point]["properties"]["date"]["format"] == "date"
    entity = schemas["AuditLogItem"]["properties"]["entityId"]["anyOf"]
    assert entity[0] == {"type": "string", "format": "uuid"}
    month = re.compile(entity[1]["pattern"])
    assert month.match("2026-01")
    assert not month.match("2026-13")
    for commission in ("AdminCommission", "MemberCommission"):
        (period, null) = schemas[commission]["properties"]["periodId"]["anyOf"]
        assert period["pattern"] == entity[1]["pattern"]
        assert null == {"type": "null"}


def test_every_request_body_has_an_example(spec: dict[str, Any]) -> None:
    bodies = 0
    for path, method, op in _operations(spec):
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            bodies += 1
            example = media.get("example", next(iter(media.get("examples", {}).values()), None))
            assert isinstance(example, dict), (method, path, media_type)
            assert example, (method, path, media_type)
    assert bodies > 20
    login = spec["paths"]["/auth/login"]["post"]["requestBody"]["content"]["application/json"]
    assert login["example"] == {"email": "partner@iwm.local", "password": "demo-password"}


def test_generated_clients_get_unique_models_and_optional_bodies(spec: dict[str, Any]) -> None:
    # Generators name their classes by title, and cannot type a body that is `model | null`.
    schemas = spec["components"]["schemas"]
    assert all(schema.get("title") == name for name, schema in schemas.items())
    for path, method, op in _operations(spec):
        for media in op.get("requestBody", {}).get("content", {}).values():
            options = media["schema"].get("anyOf", [])
            assert not any(o.get("type") == "null" for o in options), (method, path)
    approve = spec["paths"]["/api/v1/admin/payouts/{payout_id}/approve"]["post"]["requestBody"]
    assert approve["required"] is False
    assert approve["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PayoutsApproveRequest"
    }
