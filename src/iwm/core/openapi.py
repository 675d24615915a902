"""The OpenAPI document as clients need it: who may call each operation (Bearer session
token, or the kiosk's device key), the error format on every error status with the codes
the service really answers (400 `VALIDATION_ERROR`, never FastAPI's default 422), stable
operation ids, readable schema names and `date-time` formats on timestamps.

FastAPI builds the document from the routes; the fixes are applied once, to the built
document, so no route has to repeat them.
"""

import json
import re
import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from iwm.core.money import unmark

ERROR_SCHEMA = "ErrorResponse"
BEARER = "bearerAuth"
DEVICE_KEY = "kioskDeviceKey"
_REF = "#/components/schemas/"
# Every operation under these needs a session token; the webhook is signed instead.
_SESSION_PATHS = (
    "/partner",
    "/api/v1/",
    "/auth/me",
    "/auth/logout",
    "/auth/password/change",
    "/auth/2fa/",
)
_SIGNED_PATHS = ("/api/v1/payments/webhook",)
_STANDARD_ERRORS = {
    "400": "VALIDATION_ERROR: a parameter or a body field is invalid (each one named)",
    "401": "UNAUTHORIZED: no valid credentials",
    "403": "FORBIDDEN: the caller's role may not do this",
    "404": "not found (*_NOT_FOUND)",
    "429": "RATE_LIMITED (see Retry-After)",
    "500": "INTERNAL_ERROR",
    "503": "SERVICE_UNAVAILABLE: a part the request needs is down (see Retry-After)",
}


# The surface an operation id starts with, by path prefix (longest first); the kiosk's own
# `{kiosk_id}` belongs to its surface, not to a resource.
_ID_SURFACES = (
    ("/api/v1/admin", "admin"),
    ("/api/v1/me", "me"),
    ("/api/v1/payments", "payments"),
    ("/api/v1", "member"),
    ("/kiosk/{kiosk_id}", "kiosk"),
    ("/partner", "partner"),
    ("/auth", "auth"),
)


def operation_id(route: APIRoute) -> str:
    """`<surface>_<resource>_<action>`, from the path and the method alone, so that a new
    route gets a stable, readable id without naming one: `admin_users_list`,
    `admin_payouts_approve`, `kiosk_orders_create`, `partner_orders_get`, `auth_login`.

    The resource is the path's fixed segments; the action is `list` or `get` for GET (a
    list: the function is `list_*` or answers a list), `create` for POST to a collection
    (a plural segment), `update`, `delete`, or the path's last segment when it is a verb
    (`/payouts/{id}/approve`, `/auth/login`). A route serving several methods gets the
    method appended by `_clean` (`healthz_get`, `healthz_head`)."""
    path, surface = route.path, ""
    for prefix, name in _ID_SURFACES:
        if path == prefix or path.startswith(prefix + "/"):
            path, surface = path[len(prefix) :], name
            break
    segments = [s for s in path.split("/") if s]
    literals = [re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_") for s in segments if s[0] != "{"]
    methods = sorted(route.methods or ())
    if len(methods) != 1:
        return "_".join([surface, *literals] if surface else literals) or route.name
    method = methods[0]
    ends_with_id = bool(segments) and segments[-1].startswith("{")
    verb_after_id = len(segments) > 1 and not ends_with_id and segments[-2].startswith("{")
    action: str
    if method == "GET":
        answer = getattr(route.endpoint, "__annotations__", {}).get("return")
        many = route.name.startswith("list_") or "list[" in repr(answer)
        action = "list" if many and not ends_with_id else "get"
    elif method == "POST" and literals and not ends_with_id:
        if verb_after_id or not literals[-1].endswith("s"):
            action, literals = literals[-1], literals[:-1]
        else:
            action = "create"
    else:
        action = {"PATCH": "update", "PUT": "replace", "DELETE": "delete"}.get(
            method, method.lower()
        )
    return "_".join(part for part in (surface, *literals, action) if part)


def _answers_array(op: dict[str, Any]) -> bool:
    content = op.get("responses", {}).get("200", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return bool(schema.get("type") == "array")


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            with warnings.catch_warnings():
                # A route serving GET and HEAD gets one id from FastAPI for both; _clean
                # appends the method, so the finished document has no duplicate.
                warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
                document = get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            # Money defaults and examples are exact numbers in the document as in answers
            # (core/money.py), whoever reads it: a client generator given the in-process
            # document refused the marked strings as numbers and dropped those schemas.
            app.openapi_schema = json.loads(unmark(json.dumps(_clean(document)).encode()))
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    components = doc.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas[ERROR_SCHEMA] = _error_schema()
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "The session token from POST /auth/login (partners and admins).",
        },
        DEVICE_KEY: {
            "type": "http",
            "scheme": "bearer",
            "description": "The kiosk's device key (shown once when the kiosk is created or "
            "its key rotated).",
        },
    }
    for path, item in doc.get("paths", {}).items():
        methods = [m for m in item if m in {"get", "put", "post", "patch", "delete", "head"}]
        ids = {item[m].get("operationId") for m in methods}
        for method in methods:
            op = item[method]
            if len(methods) > 1 and len(ids) < len(methods):
                op["operationId"] = f"{op['operationId']}_{method}"
            elif method == "get" and _answers_array(op) and op["operationId"].endswith("_get"):
                # A fixed path answering a JSON array is a list (`partner_orders_new_list`).
                op["operationId"] = op["operationId"].removesuffix("_get") + "_list"
            _security(path, op)
            _errors(path, op)
            _optional_body(op)
            _body_example(op, schemas)
    renames = {name: _readable(name) for name in schemas}
    if len(set(renames.values())) != len(renames):
        renames = {name: name for name in schemas}
    components["schemas"] = {renames[name]: _formats(s) for name, s in schemas.items()}
    for name, schema in components["schemas"].items():
        # Client generators name their classes by title: two modules' `DetailUser` would
        # collide, so the title is the unique component name.
        if isinstance(schema, dict):
            schema["title"] = name
    _rewrite_refs(doc, renames)
    return doc


def _error_schema() -> dict[str, Any]:
    return {
        "title": ERROR_SCHEMA,
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean", "const": False},
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "examples": ["VALIDATION_ERROR"]},
                    "message": {"type": "string"},
                    "details": {
                        "type": "object",
                        "additionalProperties": True,
                        "description": "For VALIDATION_ERROR: each bad field with its messages.",
                    },
                },
            },
        },
        "example": {
            "success": False,
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "Validation failed",
                "details": {"email": ["value is not a valid email address"]},
            },
        },
    }


def _security(path: str, op: dict[str, Any]) -> None:
    if path.startswith("/kiosk/"):
        op["security"] = [{DEVICE_KEY: []}]
    elif path.startswith(_SESSION_PATHS) and not path.startswith(_SIGNED_PATHS):
        op["security"] = [{BEARER: []}]


def _errors(path: str, op: dict[str, Any]) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    # FastAPI's own 422 (its validation errors answer 400 here); a domain 422 such as
    # IDEMPOTENCY_KEY_REUSED is real and stays.
    fastapi_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
    if "HTTPValidationError" in str(fastapi_422.get("schema", {})):
        responses.pop("422")
    wanted = {"500", "503"}
    if op.get("parameters") or op.get("requestBody"):
        wanted.add("400")
    if "security" in op:
        wanted |= {"401", "403"}
    if "{" in path:
        wanted.add("404")
    for status in wanted:
        responses.setdefault(status, {"description": _STANDARD_ERRORS[status]})
    for status, response in responses.items():
        if status[0] in "45":
            if not response.get("description"):
                response["description"] = _STANDARD_ERRORS.get(status, "error")
            response["content"] = {
                "application/json": {"schema": {"$ref": f"{_REF}{ERROR_SCHEMA}"}}
            }


def _optional_body(op: dict[str, Any]) -> None:
    """An optional body is `anyOf: [model, null]` to FastAPI; OpenAPI says it with
    `required: false` on the body, which client generators understand."""
    body = op.get("requestBody")
    if not body:
        return
    for media in body.get("content", {}).values():
        options = media.get("schema", {}).get("anyOf", [])
        models = [o for o in options if o.get("type") != "null"]
        if len(options) == 2 and len(models) == 1:  # noqa: PLR2004 - a model or null
            media["schema"] = models[0]
            body["required"] = False


def _body_example(op: dict[str, Any], schemas: dict[str, Any]) -> None:
    """An example on every request body (Swagger's "Try it out" starts from it): the
    model's own example where it has one, else one built from the schema."""
    for media in op.get("requestBody", {}).get("content", {}).values():
        if "example" not in media and "examples" not in media:
            media["example"] = _example(media.get("schema", {}), schemas, depth=0)


_SAMPLE_STRINGS = {
    "date-time": "2026-01-01T12:00:00Z",
    "date": "2026-01-01",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "email": "partner@iwm.local",
    "binary": "<file>",
    "uri": "https://example.com/",
}
_MAX_DEPTH = 6
# Plain-string fields whose name says what a sensible value looks like.
_NAMED_SAMPLES = {
    "email": "partner@iwm.local",
    "password": "demo-password",
    "phone": "+1234567890",
    "name": "John Doe",
}


def _named_sample(name: str, schema: dict[str, Any]) -> str | None:
    if schema.get("type") != "string" or "format" in schema or "enum" in schema:
        return None
    lowered = name.lower()
    return next((v for k, v in _NAMED_SAMPLES.items() if lowered.endswith(k)), None)


def _example(schema: dict[str, Any], schemas: dict[str, Any], depth: int) -> Any:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _example(schemas.get(ref[len(_REF) :], {}), schemas, depth)
    for key in ("example", "default", "const"):
        if key in schema and schema[key] is not None:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if options:
        usable = [o for o in options if o.get("type") != "null"] or options
        return _example(usable[0], schemas, depth)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth >= _MAX_DEPTH:
            return {}
        return {
            name: _named_sample(name, sub) or _example(sub, schemas, depth + 1)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_example(schema.get("items", {}), schemas, depth + 1)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "string":
        sample = _SAMPLE_STRINGS.get(schema.get("format", ""), "string")
        return (
            sample
            if len(sample) >= int(schema.get("minLength", 0))
            else "x" * int(schema["minLength"])
        )
    return None


def _readable(name: str) -> str:
    """`iwm__modules__kyc__schemas__ApproveRequest` -> `KycApproveRequest`,
    `Envelope_list_ShopRead__` -> `EnvelopeListShopRead`."""
    qualified = re.fullmatch(r"iwm__modules__(\w+?)__schemas__(\w+)", name)
    if qualified:
        module, short = qualified.groups()
        return "".join(p.capitalize() for p in module.split("_")) + short
    if name.startswith("Body_"):
        # FastAPI's name for a form body: Body_<function>_<path>_<method>.
        return (
            "".join(p[:1].upper() + p[1:] for p in name.split("__", maxsplit=1)[0].split("_"))
            + "Form"
        )
    parts = [p for p in re.split(r"[_\-]+", name) if p]
    return "".join(p[:1].upper() + p[1:] for p in parts)


def _formats(schema: Any) -> Any:
    """Timestamps (`...At`) are RFC 3339 strings: say so, for typed clients."""
    if isinstance(schema, dict):
        for prop, sub in schema.get("properties", {}).items():
            if prop.endswith("At"):
                for option in [sub, *sub.get("anyOf", [])]:
                    if option.get("type") == "string" and "format" not in option:
                        option["format"] = "date-time"
        for value in schema.values():
            _formats(value)
    elif isinstance(schema, list):
        for value in schema:
            _formats(value)
    return schema


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            node["$ref"] = _REF + renames.get(ref[len(_REF) :], ref[len(_REF) :])
        for value in node.values():
            _rewrite_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, renames)
    return node
