"""Heartbeat answers: the acknowledgement, and the ASGI fast path that answers an accepted
heartbeat before routing."""

import uuid
from datetime import datetime

from starlette.types import ASGIApp, Receive, Scope, Send

from iwm.core import clock
from iwm.core.deps import parse_bearer
from iwm.core.resources import HeartbeatBuffer
from iwm.modules.kiosks.models import KioskStatus
from iwm.modules.kiosks.schemas import HeartbeatAck, KioskSettings


def heartbeat_ack(seen: tuple[str, str], now: datetime | None = None) -> HeartbeatAck:
    return HeartbeatAck(
        server_time=now or clock.now(),
        status=KioskStatus(seen[0]),
        settings=KioskSettings(default_language=seen[1]),
    )


ROUTE = "/kiosk/{kiosk_id}/heartbeat"


class HeartbeatFastPath:
    """Pure ASGI: answers an accepted `POST /kiosk/{id}/heartbeat` without routing,
    dependency resolution or request parsing, which cost more than the heartbeat itself.
    Anything else, a refused heartbeat included, goes on to the app unchanged."""

    PREFIX = "/kiosk/"
    SUFFIX = "/heartbeat"

    def __init__(self, app: ASGIApp, heartbeats: HeartbeatBuffer) -> None:
        self.app = app
        self.heartbeats = heartbeats
        self._bodies: dict[tuple[str, str], tuple[int, bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(self.PREFIX) and path.endswith(self.SUFFIX):
                kiosk_id = _parse_uuid(path[len(self.PREFIX) : -len(self.SUFFIX)])
                key = _bearer(scope["headers"])
                if kiosk_id is not None and key is not None:
                    seen = await self.heartbeats.beat(kiosk_id, key)
                    if seen is not None:
                        # The route the request log and metrics name (no routing ran).
                        state = scope.setdefault("state", {})
                        state["route"], state["kiosk_id"] = ROUTE, kiosk_id
                        body = self._body(seen)
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 200,
                                "headers": [
                                    (b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()),
                                ],
                            }
                        )
                        await send({"type": "http.response.body", "body": body})
                        return
        await self.app(scope, receive, send)

    def _body(self, seen: tuple[str, str]) -> bytes:
        # serverTime is given to the second: one answer per second and kiosk state.
        now = clock.now()
        second = int(now.timestamp())
        cached = self._bodies.get(seen)
        if cached is None or cached[0] != second:
            cached = (second, heartbeat_ack(seen, now).model_dump_json(by_alias=True).encode())
            self._bodies[seen] = cached
        return cached[1]


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            return parse_bearer(value.decode("latin-1"))
    return None
