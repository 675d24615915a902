"""Accounts: creation and lookup, and the principal a live session stands for. Never
commits: the caller's transaction does."""

import dataclasses
import uuid
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import bindparam, event, exists, func, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from iwm.core import clock
from iwm.core.emails import account_email
from iwm.core.errors import ValidationFailed
from iwm.core.events import publish
from iwm.core.principal import Principal, Role, forget_users_with
from iwm.core.resources import Resources
from iwm.modules.users.errors import AddressNotFound, EmailAlreadyExists, UserNotFound
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
    """The principal of a live session whose user may still sign in, else None. Kept a
    moment in this process (`core.principal.PrincipalCache`, `IWM_PRINCIPAL_CACHE_SECONDS`)."""
    cache = resources.principals
    now = clock.now()
    cached = cache.get(hashed, now)
    if cached is not None:
        return cached if cached.ip == ip else dataclasses.replace(cached, ip=ip)
    generation = cache.generation
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
    principal = Principal(
        user_id=stored.user_id,
        email=email,
        roles=frozenset(Role(row.role) for row in rows if row.role is not None),
        token_hash=hashed,
        ip=ip,
        name=display_name(first_name, last_name, email),
        status=status_at(status, suspended_until, now),
        session_expires_at=stored.expires_at,
        session_created_at=stored.created_at,
    )
    cache.put(principal, generation)
    return principal


@event.listens_for(Session, "after_flush")
def _forget_changed_accounts(session: Session, _: Any) -> None:
    """An account's status, roles, email or name may have changed: the cached principals
    of its sessions are forgotten (now, and once the transaction ends)."""
    changed = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, User):
            changed.add(obj.id)
        elif isinstance(obj, UserRole):
            changed.add(obj.user_id)
    forget_users_with(session, changed)


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
        language: str | None = None,
        sponsor_partner_id: uuid.UUID | None = None,
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
            language=language or "en",
            sponsor_partner_id=sponsor_partner_id,
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

    # -- the member's own account (the member API) ------------------------------------

    async def lock(self, user_id: uuid.UUID) -> User:
        """The user row, locked (FOR UPDATE on PostgreSQL). Raises USER_NOT_FOUND."""
        stmt = (
            select(User)
            .where(User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        user = (await self._db.execute(stmt)).scalar_one_or_none()
        if user is None:
            raise UserNotFound()
        return user

    async def lock_only(self, user_id: uuid.UUID) -> None:
        """The user row's lock, without reading the account (nor its roles): one writer of
        the member's own things at a time. Raises USER_NOT_FOUND."""
        locked = await self._db.scalar(select(User.id).where(User.id == user_id).with_for_update())
        if locked is None:
            raise UserNotFound()

    async def verify_email(self, user_id: uuid.UUID) -> User:
        """The address is proven: a PENDING_VERIFICATION account becomes ACTIVE (any other
        status stays as it is: a suspension is not lifted by a link)."""
        user = await self.lock(user_id)
        now = clock.now()
        if user.email_verified_at is None:
            user.email_verified_at = now
        if user.status == UserStatus.PENDING_VERIFICATION:
            user.status = UserStatus.ACTIVE
        user.updated_at = now
        await self._db.flush()
        return user

    async def set_password(self, user_id: uuid.UUID, password_hash: str) -> User:
        user = await self.lock(user_id)
        now = clock.now()
        user.password_hash = password_hash
        user.password_changed_at = now
        user.updated_at = now
        await self._db.flush()
        return user

    async def set_two_factor(self, user_id: uuid.UUID, method: str | None) -> None:
        """What the admin detail shows: `method` ("TOTP") once enabled, None when off."""
        user = await self.lock(user_id)
        user.two_factor_enabled = method is not None
        user.two_factor_method = method
        user.updated_at = clock.now()
        await self._db.flush()

    async def update_own(
        self, user_id: uuid.UUID, changes: dict[str, Any]
    ) -> tuple[User, dict[str, Any], dict[str, Any]]:
        """Applies `changes` (column -> value: phone and profile columns only) and returns
        the user with the previous and new values of what changed, for the audit row."""
        user = await self.lock(user_id)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for field, value in changes.items():
            if field not in _OWN_FIELDS:
                raise ValueError(f"not a member-editable field: {field}")
            old = getattr(user, field)
            if old == value:
                continue
            before[field], after[field] = old, value
            setattr(user, field, value)
            if field == "phone":
                user.phone_verified_at = None
        if after:
            user.updated_at = clock.now()
            await self._db.flush()
        return user, before, after

    async def set_avatar(self, user_id: uuid.UUID, key: str | None) -> str | None:
        """Stores the avatar's storage key; returns the previous one (to delete after the
        commit)."""
        user = await self.lock(user_id)
        previous, user.avatar_url = user.avatar_url, key
        user.updated_at = clock.now()
        await self._db.flush()
        return previous

    async def close(self, user_id: uuid.UUID, reason: str) -> User:
        """The member closed the account: personal data erased, addresses deleted, the
        account SUSPENDED for good (`closed_at`), so sign-in is refused. The id, and every
        row that points at it (ledger, commissions, payouts, KYC files, audit), stays."""
        user = await self.lock(user_id)
        now = clock.now()
        user.email = f"closed-{user.id.hex}@closed.invalid"
        user.password_hash = None
        user.first_name = ""
        user.last_name = ""
        user.middle_name = None
        user.date_of_birth = None
        user.phone = None
        user.avatar_url = None
        user.email_verified_at = user.phone_verified_at = None
        user.two_factor_enabled, user.two_factor_method = False, None
        user.status = UserStatus.SUSPENDED
        user.suspended_at, user.suspended_until = now, None
        user.suspension_reason = reason
        user.suspended_by = user.id
        user.closed_at = user.updated_at = now
        await self._db.execute(sa_delete(UserAddress).where(UserAddress.user_id == user_id))
        await self._db.flush()
        return user

    # -- addresses ---------------------------------------------------------------------

    async def addresses(self, user_id: uuid.UUID) -> list[UserAddress]:
        stmt = (
            select(UserAddress)
            .where(UserAddress.user_id == user_id)
            .order_by(UserAddress.is_default.desc(), UserAddress.created_at, UserAddress.id)
        )
        return list((await self._db.execute(stmt)).scalars())

    async def own_address(self, user_id: uuid.UUID, address_id: uuid.UUID) -> UserAddress:
        """Raises ADDRESS_NOT_FOUND for another member's address as for a missing one."""
        stmt = select(UserAddress).where(
            UserAddress.id == address_id, UserAddress.user_id == user_id
        )
        address = (await self._db.execute(stmt.with_for_update())).scalar_one_or_none()
        if address is None:
            raise AddressNotFound()
        return address

    async def save_address(
        self, user_id: uuid.UUID, values: dict[str, Any], address_id: uuid.UUID | None, limit: int
    ) -> UserAddress:
        """Adds (`address_id` None) or edits one of the member's addresses. The first one is
        the default; a new default takes over from the old one. Raises ADDRESS_NOT_FOUND,
        VALIDATION_ERROR past `limit` addresses."""
        await self.lock_only(user_id)  # one writer of this member's addresses at a time
        existing = await self.addresses(user_id)
        if address_id is None:
            if len(existing) >= limit:
                raise ValidationFailed(
                    f"At most {limit} addresses", {"addresses": [f"at most {limit}"]}
                )
            address = UserAddress(id=uuid.uuid4(), user_id=user_id, created_at=clock.now())
            self._db.add(address)
            if not existing:
                values = {**values, "is_default": True}
        else:
            address = await self.own_address(user_id, address_id)
            if values.get("is_default") is False and address.is_default:
                # The default moves by making another address the default, not by unsetting.
                values = {k: v for k, v in values.items() if k != "is_default"}
        for field, value in values.items():
            setattr(address, field, value)
        if values.get("is_default"):
            for other in existing:
                if other.id != address.id:
                    other.is_default = False
        await self._db.flush()
        return address

    async def delete_address(self, user_id: uuid.UUID, address_id: uuid.UUID) -> None:
        """Raises ADDRESS_NOT_FOUND. Deleting the default makes the oldest remaining one
        the default."""
        await self.lock_only(user_id)
        address = await self.own_address(user_id, address_id)
        was_default = address.is_default
        await self._db.delete(address)
        await self._db.flush()
        if was_default:
            rest = await self.addresses(user_id)
            if rest:
                oldest = min(rest, key=lambda a: (a.created_at, a.id))
                oldest.is_default = True
                await self._db.flush()


_OWN_FIELDS = frozenset(
    {"phone", "first_name", "last_name", "middle_name", "date_of_birth", "language", "timezone"}
)
