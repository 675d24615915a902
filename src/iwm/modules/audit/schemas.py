import uuid
from typing import Any

from iwm.core.schemas import CamelModel, UtcDateTime


class AuditAdmin(CamelModel):
    id: uuid.UUID
    email: str | None
    name: str | None


class AuditLogItem(CamelModel):
    id: uuid.UUID
    admin: AuditAdmin | None
    action: str
    entity_type: str
    entity_id: str
    previous_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    ip_address: str | None
    created_at: UtcDateTime


class AuditLogList(CamelModel):
    logs: list[AuditLogItem]
