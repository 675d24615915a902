"""Audit records of admin mutations, added to the mutation's own transaction."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Principal
from iwm.modules.audit.models import AuditLog
from iwm.modules.audit.schemas import AuditAdmin, AuditLogItem
from iwm.modules.users.models import User


@dataclass(frozen=True, slots=True)
class AuditFilters:
    admin_id: uuid.UUID | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


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

    async def list(
        self, filters: AuditFilters, page: int, page_size: int
    ) -> tuple[list[AuditLogItem], int]:
        """Newest first."""
        stmt = select(AuditLog)
        if filters.admin_id is not None:
            stmt = stmt.where(AuditLog.admin_id == filters.admin_id)
        if filters.entity_type is not None:
            stmt = stmt.where(AuditLog.entity_type == filters.entity_type)
        if filters.entity_id is not None:
            stmt = stmt.where(AuditLog.entity_id == filters.entity_id)
        if filters.action is not None:
            stmt = stmt.where(AuditLog.action == filters.action)
        if filters.created_from is not None:
            stmt = stmt.where(AuditLog.created_at >= filters.created_from)
        if filters.created_before is not None:
            stmt = stmt.where(AuditLog.created_at < filters.created_before)
        total = (
            await self._db.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = list(
            (
                await self._db.execute(
                    stmt.order_by(AuditLog.created_at.desc(), AuditLog.id)
                    .offset((page - 1) * page_size)
                    .limit(page_size)
                )
            ).scalars()
        )
        admin_ids = {r.admin_id for r in rows if r.admin_id is not None}
        admins: dict[uuid.UUID, User] = {}
        if admin_ids:
            found = await self._db.execute(select(User).where(User.id.in_(admin_ids)))
            admins = {u.id: u for u in found.scalars()}
        items = []
        for r in rows:
            admin = None
            if r.admin_id is not None:
                user = admins.get(r.admin_id)
                admin = AuditAdmin(
                    id=r.admin_id,
                    email=user.email if user else None,
                    name=user.full_name if user else None,
                )
            items.append(
                AuditLogItem(
                    id=r.id,
                    admin=admin,
                    action=r.action,
                    entity_type=r.entity_type,
                    entity_id=r.entity_id,
                    previous_values=r.previous_values,
                    new_values=r.new_values,
                    ip_address=r.ip_address,
                    created_at=r.created_at,
                )
            )
        return items, int(total)
