"""Builders for the admin domain (accounts, KYC, network partners), made through the
domain services as the member side would."""

import uuid
from datetime import date, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.kyc.models import (
    DocumentKind,
    DocumentType,
    KycLevel,
    KycPriority,
    KycVerification,
)
from iwm.modules.kyc.schemas import DocumentUpload, KycAddress, PersonalInfo
from iwm.modules.kyc.service import KycService
from iwm.modules.network.models import NetworkPartner
from iwm.modules.network.service import NetworkService
from iwm.modules.users.models import User, UserStatus
from iwm.modules.users.service import UserService
from tests.factories.images import jpeg, png
from tests.factories.kiosk_network import login, make_user

API = "/api/v1/admin"


async def make_member(
    resources: Resources,
    email: str | None = None,
    first_name: str = "Ivan",
    last_name: str = "Petrov",
    phone: str | None = None,
    roles: set[Role] | None = None,
    status: UserStatus = UserStatus.ACTIVE,
    created_at: datetime | None = None,
    last_login_at: datetime | None = None,
) -> User:
    async with resources.sessionmaker.begin() as db:
        user = await UserService(db).create(
            email or f"member-{uuid.uuid4().hex[:8]}@example.com",
            roles or {Role.USER},
            password_hash=resources.passwords.hash("correct-horse-battery"),
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            status=status,
        )
        if created_at is not None:
            user.created_at = created_at
        user.last_login_at = last_login_at
    return user


async def admin_headers(
    client: httpx.AsyncClient, resources: Resources, role: Role = Role.ADMIN
) -> tuple[User, dict[str, str]]:
    admin = await make_user(resources, role)
    return admin, await login(client, admin)


def personal_info(first_name: str = "Alice", last_name: str = "Smith") -> PersonalInfo:
    return PersonalInfo(
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date(1990, 5, 15),
        nationality="RU",
        document_number="4509 123456",
        document_type=DocumentType.PASSPORT,
        document_issue_date=date(2015, 1, 1),
        document_expiry_date=date(2035, 1, 1),
        address=KycAddress(
            country="RU", city="Moscow", street="Tverskaya", building="1", postal_code="125009"
        ),
    )


async def submit_kyc(
    resources: Resources,
    user: User,
    documents: int = 2,
    priority: KycPriority = KycPriority.NORMAL,
    level: KycLevel = KycLevel.STANDARD,
    submitted_at: datetime | None = None,
) -> KycVerification:
    uploads = [
        DocumentUpload(type=DocumentKind.PASSPORT, file_name="passport.jpg", data=jpeg()),
        DocumentUpload(type=DocumentKind.SELFIE, file_name="selfie.png", data=png()),
    ][:documents]
    async with resources.sessionmaker.begin() as db:
        verification = await KycService(db, resources.settings, resources.storage).submit(
            user.id,
            personal_info(user.first_name, user.last_name),
            uploads,
            level=level,
            priority=priority,
        )
        if submitted_at is not None:
            verification.submitted_at = submitted_at
    return verification


async def enroll(
    resources: Resources, user: User, sponsor: NetworkPartner | None = None
) -> NetworkPartner:
    async with resources.sessionmaker.begin() as db:
        return await NetworkService(db, resources.settings).enroll(
            user.id, sponsor.id if sponsor else None
        )


async def audit_rows(db: AsyncSession, action: str | None = None) -> list[AuditLog]:
    """The audit rows as committed now (a fresh snapshot: earlier reads are let go)."""
    await db.rollback()
    stmt = select(AuditLog).order_by(AuditLog.created_at)
    if action is not None:
        stmt = stmt.where(AuditLog.action == action)
    return list((await db.execute(stmt)).scalars())
