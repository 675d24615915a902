"""The member's own account: profile, addresses, avatar and sessions.

Never commits: the request's transaction does. The user's rows change through
`users.service`; the KYC state and the partner profile are only read.
"""

import asyncio
import uuid
from typing import Any

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.errors import ValidationFailed
from iwm.core.images import clean_photo
from iwm.core.principal import Principal
from iwm.core.resources import Resources
from iwm.core.sessions import SessionInfo
from iwm.modules.accounts import schemas as s
from iwm.modules.accounts.errors import SessionNotFound
from iwm.modules.audit.service import AuditService
from iwm.modules.network.models import NetworkPartner, PartnerRank
from iwm.modules.users.errors import UserNotFound
from iwm.modules.users.models import AVATAR_PREFIX, User, UserAddress, UserRole, status_at
from iwm.modules.users.service import UserService

log = structlog.get_logger()
ENTITY = "user"


# Namespace of the sessions' public ids (uuid5): any fixed value would do.
_SESSION_IDS = uuid.UUID("8d3c2f4e-5b1a-4c7e-9f60-2a1d9e7b3c55")


def session_id(token_hash: str) -> uuid.UUID:
    """A session's public id: derived from the stored hash, never the hash itself (that
    is the key the session store looks tokens up by)."""
    return uuid.uuid5(_SESSION_IDS, token_hash)


def _address(a: UserAddress) -> s.AddressRead:
    return s.AddressRead(
        id=a.id,
        label=a.label,
        is_default=a.is_default,
        country=a.country,
        region=a.region,
        city=a.city,
        street=a.street,
        building=a.building,
        apartment=a.apartment,
        postal_code=a.postal_code,
        created_at=a.created_at,
    )


# GET /api/v1/me in one statement, built once: the account, a row per role, the partner
# profile and its rank (as columns, not entities: a `User` entity loads its roles in a
# statement of its own).
_ME = (
    select(
        User.email,
        User.phone,
        User.status,
        User.suspended_until,
        User.first_name,
        User.last_name,
        User.middle_name,
        User.date_of_birth,
        User.language,
        User.timezone,
        User.avatar_url,
        User.kyc_status,
        User.kyc_level,
        User.two_factor_enabled,
        User.email_verified_at,
        User.created_at,
        UserRole.role,
        NetworkPartner.id.label("partner_id"),
        NetworkPartner.referral_code,
        NetworkPartner.status.label("partner_status"),
        NetworkPartner.created_at.label("joined_at"),
        PartnerRank.name.label("rank"),
    )
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .outerjoin(NetworkPartner, NetworkPartner.user_id == User.id)
    .outerjoin(PartnerRank, PartnerRank.id == NetworkPartner.rank_id)
    .where(User.id == bindparam("user_id"))
)


class MeService:
    def __init__(self, session: AsyncSession, resources: Resources) -> None:
        self._db = session
        self._resources = resources
        self._users = UserService(session)
        self._audit = AuditService(session)

    # -- profile -------------------------------------------------------------------------

    async def read(self, principal: Principal) -> s.Me:
        """Raises USER_NOT_FOUND."""
        return await self._read(principal.user_id)

    async def _view(self, user: User) -> s.Me:
        """The account as just changed in this transaction."""
        await self._db.flush()  # the read below goes by the connection, not the session
        return await self._read(user.id)

    async def _read(self, user_id: uuid.UUID) -> s.Me:
        """The account, its roles and partner profile in one statement."""
        conn = await self._db.connection()
        rows = (await conn.execute(_ME, {"user_id": user_id})).all()
        if not rows:
            raise UserNotFound()
        u = rows[0]
        partner = None
        if u.partner_id is not None:
            partner = s.MePartner(
                id=u.partner_id,
                referral_code=u.referral_code,
                status=u.partner_status,
                rank=u.rank,
                joined_at=u.joined_at,
            )
        avatar = await self._resources.storage.url(u.avatar_url) if u.avatar_url else None
        return s.Me(
            id=user_id,
            email=u.email,
            phone=u.phone,
            status=status_at(u.status, u.suspended_until, clock.now()),
            roles=sorted({r.role for r in rows if r.role is not None}),
            profile=s.MeProfile(
                first_name=u.first_name,
                last_name=u.last_name,
                middle_name=u.middle_name,
                date_of_birth=u.date_of_birth,
                language=u.language,
                timezone=u.timezone,
                avatar_url=avatar,
            ),
            kyc=s.MeKyc(status=u.kyc_status, level=u.kyc_level),
            partner=partner,
            two_factor_enabled=u.two_factor_enabled,
            email_verified_at=u.email_verified_at,
            created_at=u.created_at,
        )

    async def update(self, principal: Principal, body: s.MeUpdate) -> s.Me:
        """Raises VALIDATION_ERROR for a language outside the supported list. One
        PROFILE_UPDATED audit row with what changed."""
        changes: dict[str, Any] = {}
        if "phone" in body.model_fields_set:
            changes["phone"] = body.phone
        if body.profile is not None:
            language = body.profile.language
            supported = self._resources.settings.supported_languages
            if language is not None and language not in supported:
                raise ValidationFailed(
                    "Unsupported language",
                    {"profile.language": [f"one of {', '.join(supported)}"]},
                )
            changes |= {f: getattr(body.profile, f) for f in body.profile.model_fields_set}
        user, before, after = await self._users.update_own(principal.user_id, changes)
        if after:
            self._audit.record(
                principal,
                "PROFILE_UPDATED",
                ENTITY,
                user.id,
                previous=_json(before),
                new=_json(after),
            )
        return await self._view(user)

    async def set_avatar(self, principal: Principal, data: bytes) -> tuple[s.Me, str | None]:
        """Stores the photo (decoded in full, re-encoded without metadata, at most 480
        pixels a side: an avatar needs no more); returns the view and the previous photo's
        key, to delete once committed. Raises VALIDATION_ERROR for what is not a photo."""
        settings = self._resources.settings
        photo = await asyncio.to_thread(
            clean_photo,
            data,
            max_pixels=settings.max_image_pixels,
            max_side=settings.max_image_side,
        )
        key = f"{AVATAR_PREFIX}{principal.user_id}/{uuid.uuid4()}.jpg"
        await self._resources.storage.put(key, photo.thumbnail, "image/jpeg")
        previous = await self._users.set_avatar(principal.user_id, key)
        self._audit.record(principal, "AVATAR_UPDATED", ENTITY, principal.user_id, new={"key": key})
        user = await self._users.get(principal.user_id)
        return await self._view(user), previous

    async def remove_avatar(self, principal: Principal) -> tuple[s.Me, str | None]:
        previous = await self._users.set_avatar(principal.user_id, None)
        if previous is not None:
            self._audit.record(principal, "AVATAR_REMOVED", ENTITY, principal.user_id)
        return await self._view(await self._users.get(principal.user_id)), previous

    # -- addresses -----------------------------------------------------------------------

    async def addresses(self, principal: Principal) -> list[s.AddressRead]:
        return [_address(a) for a in await self._users.addresses(principal.user_id)]

    async def address(self, principal: Principal, address_id: uuid.UUID) -> s.AddressRead:
        return _address(await self._users.own_address(principal.user_id, address_id))

    async def save_address(
        self,
        principal: Principal,
        values: dict[str, Any],
        address_id: uuid.UUID | None = None,
    ) -> s.AddressRead:
        """Raises ADDRESS_NOT_FOUND (another member's too), VALIDATION_ERROR past the
        limit of addresses."""
        limit = self._resources.settings.addresses_per_member
        address = await self._users.save_address(principal.user_id, values, address_id, limit)
        self._audit.record(
            principal,
            "ADDRESS_ADDED" if address_id is None else "ADDRESS_UPDATED",
            "user_address",
            address.id,
            new=_json(values),
        )
        return _address(address)

    async def delete_address(self, principal: Principal, address_id: uuid.UUID) -> None:
        await self._users.delete_address(principal.user_id, address_id)
        self._audit.record(principal, "ADDRESS_DELETED", "user_address", address_id)


class MySessions:
    """The caller's sessions. No request transaction: the session store reads and
    deletes on its own (Redis, or short SQL transactions), so on SQLite no write lock is
    held meanwhile."""

    def __init__(self, resources: Resources) -> None:
        self._store = resources.sessions

    async def list(self, principal: Principal) -> list[s.SessionRead]:
        return [_session(i, principal) for i in await self._store.list_user(principal.user_id)]

    async def revoke(self, principal: Principal, public_id: uuid.UUID) -> None:
        """Ends one of the caller's sessions (the current one too: that is a logout).
        Raises SESSION_NOT_FOUND for an id that is not one of his live sessions."""
        found = await self._store.list_user(principal.user_id)
        match = next((i for i in found if session_id(i.token_hash) == public_id), None)
        if match is None:
            raise SessionNotFound()
        await self._store.delete(match.token_hash)
        log.info("session.revoked", user_id=str(principal.user_id))


def _session(info: SessionInfo, principal: Principal) -> s.SessionRead:
    return s.SessionRead(
        id=session_id(info.token_hash),
        created_at=info.created_at,
        expires_at=info.expires_at,
        ip=info.ip,
        user_agent=info.user_agent,
        current=info.token_hash == principal.token_hash,
    )


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}
