import uuid
from typing import Annotated, Any

from pydantic import WithJsonSchema

from iwm.core.schemas import MONTH_PATTERN, CamelModel, UtcDateTime

# The audited row's id, or the month of a monthly run (returns, rank qualification).
EntityId = Annotated[
    str,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "uuid"},
                {"type": "string", "pattern": MONTH_PATTERN},
            ],
            "description": "The row's id; for a monthly run (entityType returns_period, "
            "rank_period) its month, YYYY-MM.",
        }
    ),
]


class AuditAdmin(CamelModel):
    id: uuid.UUID
    email: str | None
    name: str | None


class AuditLogItem(CamelModel):
    id: uuid.UUID
    admin: AuditAdmin | None
    action: str
    entity_type: str
    entity_id: EntityId
    previous_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    ip_address: str | None
    created_at: UtcDateTime


class AuditLogList(CamelModel):
    logs: list[AuditLogItem]
