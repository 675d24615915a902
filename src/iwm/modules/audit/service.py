"""Audit records of admin mutations, added to the mutation's own transaction."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Principal
from iwm.modules.audit.models import AuditLog


class AuditService:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    def record(
        self,
        admin: Principal,
        action: str,
        entity_type: str,
        entity_id: uuid.UUID | str,
        previous: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
    ) -> AuditLog:
        return self.record_by(
            admin.user_id, action, entity_type, entity_id, previous, new, ip=admin.ip
        )

    def record_by(
        self,
        admin_id: uuid.UUID | None,
        action: str,
        entity_type: str,
        entity_id: uuid.UUID | str,
        previous: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
        *,
        ip: str | None = None,
    ) -> AuditLog:
        """For work finished by the service on an admin's behalf (no request, no IP)."""
        row = AuditLog(
            admin_id=admin_id,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            previous_values=previous,
            new_values=new,
            ip_address=ip,
        )
        self._db.add(row)
        return row
