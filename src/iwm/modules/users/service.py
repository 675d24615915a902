"""Accounts: creation and lookup, and the principal a live session stands for. Never
commits: the caller's transaction does."""

import uuid
from datetime import datetime

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.emails import account_email
from iwm.core.errors import ValidationFailed
from iwm.core.events import publish
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.modules.users.errors import EmailAlreadyExists, UserNotFound
from iwm.modules.users.events import UserCreated
from iwm.modules.users.models import (
    User,
    UserAddress,
    UserRole,
    UserStatus,
    display_name,
    status_at,
)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def principal_of(user: User) -> Principal:
    """`user` acting outside a request (demo data, scripts, tests): no session behind it."""
    return Principal(
        user_id=user.id,
        email=user.email,
        roles=user.roles,
        token_hash="-",  # noqa: S106
        status=user.status,
    )


_BLOCKED = {UserStatus.SUSPENDED, UserStatus.BANNED}


def is_blocked(status: str, suspended_until: datetime | None) -> bool:
    if status not in _BLOCKED:
        return False
    # A timed suspension ends by itself once its end has passed.
    return not (
        status == UserStatus.SUSPENDED
        and suspended_until is not None
        and suspended_until <= clock.now()
    )


# Every authenticated request runs this: one Core statement on a bare autocommit
# connection, no ORM session and no BEGIN/ROLLBACK (a few times less CPU than loading the
# User and its roles).
_PRINCIPAL = (
    select(
        User.email,
        User.status,
        User.suspended_until,
        User.first_name,
        User.last_name,
        UserRole.role,
    )
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)


async def resolve_principal(resources: Resources, hashed: str, ip: str | None) -> Principal | None:
    """The principal of a live session whose user may still sign in, else None."""
    stored = await resources.sessions.get(hashed)
    if stored is None:
        return None
    async with resources.read_engine.connect() as conn:
        rows = (await conn.execute(_PRINCIPAL, {"user_id": stored.user_id})).all()
    if not rows:
        return None
    email, status, suspended_until, first_name, last_name, _ = rows[0]
    if is_blocked(status, suspended_until):
        return None
    return Principal(
        user_id=stored.user_id,
        email=email,
        roles=frozenset(Role(row.role) for row in rows if row.role is not None),
        token_hash=hashed,
        ip=ip,
        name=display_name(first_name, last_name, email),
        status=status_at(status, suspended_until, clock.now()),
        session_expires_at=stored.expires_at,
        session_created_at=stored.created_at,
    )


class UserService:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def by_email(self, email: str) -> User | None:
        stmt = select(User).where(User.email == normalize_email(email))
        return (await self._db.execute(stmt)).scalar_one_or_none()

    async def get(self, user_id: uuid.UUID) -> User:
        user = await self._db.get(User, user_id)
        if user is None:
            raise UserNotFound()
        return user

    async def create(
        self,
        email: str,
        roles: set[Role],
        *,
        password_hash: str,
        first_name: str = "",
        last_name: str = "",
        phone: str | None = None,
        status: UserStatus = UserStatus.ACTIVE,
        created_at: datetime | None = None,
    ) -> User:
        """Raises VALIDATION_ERROR (400) for an address the account rule refuses
        (`core.emails`), EMAIL_ALREADY_EXISTS (409) for a taken one, case-insensitively.

        `password_hash` comes from the app's `PasswordHasher` (`resources.passwords`);
        `created_at` (default now) back-dates an account loaded after the fact (the demo
        data), so that its `UserCreated` counts it on that day."""
        try:
            email = account_email(email)
        except ValueError as exc:
            raise ValidationFailed("Invalid email address", {"email": [str(exc)]}) from None
        if await self.by_email(email) is not None:
            raise EmailAlreadyExists()
        user = User(
            id=uuid.uuid4(),
            email=email,
            password_hash=password_hash,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            status=status,
            role_rows=[UserRole(role=r.value) for r in sorted(roles)],
            created_at=created_at or clock.now(),
        )
        self._db.add(user)
        try:
            await self._db.flush()
        except IntegrityError as exc:
            # Two sign-ups of one address at once: the unique index decides.
            if "email" in str(exc.orig).lower():
                raise EmailAlreadyExists() from None
            raise
        await publish(self._db, UserCreated(user_id=user.id, created_at=user.created_at))
        return user

    async def add_address(
        self,
        user_id: uuid.UUID,
        *,
        country: str,
        city: str,
        label: str = "Home",
        street: str = "",
        building: str = "",
        postal_code: str = "",
        is_default: bool = False,
    ) -> UserAddress:
        """Raises USER_NOT_FOUND. A new default address takes over from the old one."""
        await self.get(user_id)
        if is_default:
            for old in (
                await self._db.execute(select(UserAddress).where(UserAddress.user_id == user_id))
            ).scalars():
                old.is_default = False
        address = UserAddress(
            id=uuid.uuid4(),
            user_id=user_id,
            label=label,
            is_default=is_default,
            country=country.upper(),
            city=city,
            street=street,
            building=building,
            postal_code=postal_code,
        )
        self._db.add(address)
        await self._db.flush()
        return address

    async def names(self, user_ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
        """Display names of the given users (admins who did something, sponsors...)."""
        ids = [i for i in user_ids if i is not None]
        if not ids:
            return {}
        rows = await self._db.execute(select(User).where(User.id.in_(ids)))
        return {u.id: u.full_name for u in rows.scalars()}

    async def email_taken(self, email: str, other_than: uuid.UUID) -> bool:
        stmt = select(exists().where(User.email == email, User.id != other_than))
        return bool((await self._db.execute(stmt)).scalar())

    async def count_role(self, role: Role) -> int:
        stmt = select(func.count()).select_from(UserRole).where(UserRole.role == role.value)
        return int((await self._db.execute(stmt)).scalar_one())
