"""What admins do with accounts: edit, suspend and reactivate (the list and the detail
view are `admin_views`).

Never commits: the request's transaction does, and the audit row travels with it.
Mail to the user is returned to the caller, to be sent after the commit.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.errors import Forbidden, ValidationFailed
from iwm.core.mail import MailMessage
from iwm.core.principal import Principal, Role
from iwm.core.sessions import SessionStore
from iwm.modules.audit.service import AuditService
from iwm.modules.users import schemas as s
from iwm.modules.users.errors import (
    AlreadySuspended,
    CannotModifySuperAdmin,
    CannotSuspendAdmin,
    EmailAlreadyExists,
    NotSuspended,
    UserNotFound,
)
from iwm.modules.users.models import User, UserNote, UserRole, UserStatus
from iwm.modules.users.service import UserService, normalize_email

ADMIN_ROLES = frozenset({Role.ADMIN, Role.SUPER_ADMIN})
ENTITY = "user"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A mutation's response body, and the mail to send once it is committed."""

    body: Any
    mail: MailMessage | None = None


class UserAdminService:
    def __init__(self, session: AsyncSession, sessions: SessionStore) -> None:
        self._db = session
        self._sessions = sessions
        self._users = UserService(session)
        self._audit = AuditService(session)

    async def _get(self, user_id: uuid.UUID, *, lock: bool = False) -> User:
        stmt = select(User).where(User.id == user_id)
        if lock:
            stmt = stmt.with_for_update()
        user = (await self._db.execute(stmt)).scalar_one_or_none()
        if user is None:
            raise UserNotFound()
        return user

    # -- mutations ---------------------------------------------------------------------

    def _guard_super_admin(self, admin: Principal, target: User) -> None:
        if Role.SUPER_ADMIN in target.roles and Role.SUPER_ADMIN not in admin.roles:
            raise CannotModifySuperAdmin()

    def _guard_admin_account(self, admin: Principal, target: User, what: str) -> None:
        """Another administrator's sign-in (email, password) and status are a SUPER_ADMIN's
        to change: an ADMIN who could change them could take over a fellow admin's account.
        Raises FORBIDDEN (403)."""
        if (
            target.id != admin.user_id
            and target.roles & ADMIN_ROLES
            and Role.SUPER_ADMIN not in admin.roles
        ):
            raise Forbidden(f"Only a SUPER_ADMIN may change another administrator's {what}")

    async def _admin_name(self, admin: Principal) -> str:
        return (await self._users.names({admin.user_id})).get(admin.user_id, admin.email)

    def _note(self, admin: Principal, user: User, content: str) -> None:
        self._db.add(UserNote(user_id=user.id, content=content, created_by=admin.user_id))

    async def update(self, admin: Principal, user_id: uuid.UUID, body: s.UserUpdate) -> Outcome:
        """Raises USER_NOT_FOUND, CANNOT_MODIFY_SUPER_ADMIN, FORBIDDEN (roles, and another
        admin's email, need SUPER_ADMIN), EMAIL_ALREADY_EXISTS; one USER_UPDATED audit row."""
        user = await self._get(user_id, lock=True)
        self._guard_super_admin(admin, user)
        if body.roles is not None and Role.SUPER_ADMIN not in admin.roles:
            raise Forbidden("Changing roles requires SUPER_ADMIN")
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}

        def change(field: str, key: str, value: Any) -> None:
            old = getattr(user, field)
            if old != value:
                before[key], after[key] = _json(old), _json(value)
                setattr(user, field, value)

        sent = body.model_fields_set
        if "email" in sent and body.email is not None:
            email = normalize_email(body.email)
            if email != user.email:
                self._guard_admin_account(admin, user, "email")
                if await self._users.email_taken(email, user.id):
                    raise EmailAlreadyExists()
                change("email", "email", email)
                # A new address has not been verified yet.
                change("email_verified_at", "emailVerifiedAt", None)
        if "phone" in sent:
            if body.phone != user.phone:
                change("phone_verified_at", "phoneVerifiedAt", None)
            change("phone", "phone", body.phone)
        if body.profile is not None:
            fields = {
                "first_name": "profile.firstName",
                "last_name": "profile.lastName",
                "middle_name": "profile.middleName",
                "date_of_birth": "profile.dateOfBirth",
                "language": "profile.language",
                "timezone": "profile.timezone",
            }
            for field in body.profile.model_fields_set:
                change(field, fields[field], getattr(body.profile, field))
        if body.roles is not None:
            await self._set_roles(user, set(body.roles), before, after)
        if body.note is not None:
            self._note(admin, user, body.note)
            after["note"] = body.note
        if before or after:
            user.updated_at = clock.now()
        try:
            await self._db.flush()
        except IntegrityError as exc:
            # Two admins giving one address to two users at once: the unique index decides.
            if "email" in str(exc.orig).lower():
                raise EmailAlreadyExists() from None
            raise
        self._audit.record(admin, "USER_UPDATED", ENTITY, user.id, previous=before, new=after)
        return Outcome(
            s.UserUpdated(
                id=user.id,
                email=user.email,
                phone=user.phone,
                status=user.effective_status,
                profile=s.Profile(
                    first_name=user.first_name,
                    last_name=user.last_name,
                    middle_name=user.middle_name,
                    date_of_birth=user.date_of_birth,
                    language=user.language,
                    timezone=user.timezone,
                ),
                roles=sorted(user.roles),
                updated_at=user.updated_at,
                updated_by=await self._admin_name(admin),
            )
        )

    async def _set_roles(
        self, user: User, roles: set[Role], before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        current = set(user.roles)
        if roles == current:
            return
        if (
            Role.SUPER_ADMIN in current
            and Role.SUPER_ADMIN not in roles
            and await self._users.count_role(Role.SUPER_ADMIN) <= 1
        ):
            raise ValidationFailed(
                "The last SUPER_ADMIN cannot lose the role", {"roles": ["last SUPER_ADMIN"]}
            )
        user.role_rows = [r for r in user.role_rows if Role(r.role) in roles] + [
            UserRole(role=r.value) for r in sorted(roles - current)
        ]
        before["roles"], after["roles"] = sorted(current), sorted(roles)

    async def suspend(
        self, admin: Principal, user_id: uuid.UUID, body: s.SuspendRequest
    ) -> Outcome:
        """Raises USER_NOT_FOUND, CANNOT_SUSPEND_ADMIN, ALREADY_SUSPENDED. Revokes every
        session of the user; a timed suspension ends by itself at `suspendedUntil`."""
        user = await self._get(user_id, lock=True)
        if user.roles & ADMIN_ROLES:
            raise CannotSuspendAdmin()
        status = user.effective_status
        if status is UserStatus.SUSPENDED:
            raise AlreadySuspended()
        if status is UserStatus.BANNED:
            raise AlreadySuspended("User is banned")
        now = clock.now()
        until = now + timedelta(days=body.duration) if body.duration else None
        previous = _suspension_facts(user)
        user.status = UserStatus.SUSPENDED
        user.suspended_at = now
        user.suspended_until = until
        user.suspension_reason = body.reason
        user.suspended_by = admin.user_id
        user.updated_at = now
        await self._db.flush()
        # Last before the commit: with Redis this cannot be rolled back.
        revoked = await self._sessions.revoke_user(user.id, db=self._db)
        self._audit.record(
            admin,
            "USER_SUSPENDED",
            ENTITY,
            user.id,
            previous=previous,
            new={**_suspension_facts(user), "sessionsRevoked": revoked},
        )
        mail = None
        if body.notify_user:
            ending = f"until {_iso_seconds(until)}" if until else "until further notice"
            mail = MailMessage(
                to=user.email,
                subject="Your account has been suspended",
                body=f"Hello {user.full_name},\n\nyour account is suspended {ending}.\n"
                f"Reason: {body.reason}\n",
            )
        return Outcome(
            s.Suspended(
                user_id=user.id,
                status=UserStatus.SUSPENDED,
                reason=body.reason,
                suspended_at=now,
                suspended_by=await self._admin_name(admin),
                suspended_until=until,
                sessions_revoked=revoked,
            ),
            mail,
        )

    async def activate(
        self, admin: Principal, user_id: uuid.UUID, body: s.ActivateRequest
    ) -> Outcome:
        """Lifts a suspension (or a ban). Raises USER_NOT_FOUND, FORBIDDEN (another admin
        needs SUPER_ADMIN), NOT_SUSPENDED."""
        user = await self._get(user_id, lock=True)
        self._guard_super_admin(admin, user)
        self._guard_admin_account(admin, user, "status")
        if user.effective_status not in (UserStatus.SUSPENDED, UserStatus.BANNED):
            raise NotSuspended()
        now = clock.now()
        previous = _suspension_facts(user)
        user.status = UserStatus.ACTIVE
        user.suspended_at = user.suspended_until = None
        user.suspension_reason = None
        user.suspended_by = None
        user.updated_at = now
        if body.note is not None:
            self._note(admin, user, body.note)
        await self._db.flush()
        new = {**_suspension_facts(user), **({"note": body.note} if body.note else {})}
        self._audit.record(admin, "USER_ACTIVATED", ENTITY, user.id, previous=previous, new=new)
        mail = None
        if body.notify_user:
            mail = MailMessage(
                to=user.email,
                subject="Your account is active again",
                body=f"Hello {user.full_name},\n\nyour account has been reactivated.\n",
            )
        return Outcome(
            s.Activated(
                user_id=user.id,
                status=UserStatus.ACTIVE,
                activated_at=now,
                activated_by=await self._admin_name(admin),
            ),
            mail,
        )


def _json(value: Any) -> Any:
    if value is None or isinstance(value, str | int | bool | list):
        return value
    if hasattr(value, "isoformat"):
        return clock.iso(value) if hasattr(value, "tzinfo") else value.isoformat()
    return str(value)


def _iso_seconds(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _suspension_facts(user: User) -> dict[str, Any]:
    return {
        "status": user.status,
        "suspendedUntil": clock.iso(user.suspended_until),
        "reason": user.suspension_reason,
    }
