"""Accounts: creation and lookup. Never commits: the caller's transaction does."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Principal, Role
from iwm.modules.analytics import rollups
from iwm.modules.users.errors import EmailAlreadyExists, UserNotFound
from iwm.modules.users.models import User, UserAddress, UserRole, UserStatus


def normalize_email(email: str) -> str:
    return email.strip().lower()


def principal_of(user: User) -> Principal:
    """`user` acting outside a request (demo data, scripts, tests): no session behind it."""
    return Principal(user_id=user.id, email=user.email, roles=user.roles, token_hash="-")  # noqa: S106


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
    ) -> User:
        """Raises EMAIL_ALREADY_EXISTS (409) for a taken email, case-insensitively.

        `password_hash` comes from the app's `PasswordHasher` (`resources.passwords`)."""
        if await self.by_email(email) is not None:
            raise EmailAlreadyExists()
        user = User(
            id=uuid.uuid4(),
            email=normalize_email(email),
            password_hash=password_hash,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            status=status,
            role_rows=[UserRole(role=r.value) for r in sorted(roles)],
        )
        self._db.add(user)
        await self._db.flush()
        await rollups.user_registered(self._db, user)
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
