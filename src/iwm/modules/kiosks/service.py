"""Kiosks: admin provisioning, the partner's controls and the device's own calls.

Ownership is a query filter (user -> shops -> kiosks): a kiosk of another partner is
simply not found. Never commits: the request's transaction does.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.changes import shop_changed
from iwm.core.config import Settings
from iwm.core.db import count_where, delete_in_batches
from iwm.core.listing import Listing, SortOrder, clause, equals, param
from iwm.core.money import from_minor, to_minor
from iwm.core.principal import Principal
from iwm.core.security import new_token, same_hash, token_hash
from iwm.modules.activity.models import ActivityEvent
from iwm.modules.activity.service import ActivityService
from iwm.modules.audit.service import AuditService
from iwm.modules.kiosks.errors import (
    InvalidDeviceKey,
    KioskNotFound,
    UnsupportedLanguage,
    WrongKiosk,
)
from iwm.modules.kiosks.liveness import kiosk_changed
from iwm.modules.kiosks.models import (
    CashEntryType,
    Kiosk,
    KioskCashEntry,
    KioskErrorReport,
    KioskStatus,
)
from iwm.modules.kiosks.schemas import ErrorReport, KioskCreate, KioskRow
from iwm.modules.shops.models import Shop
from iwm.modules.shops.service import ShopService

PARTNER = "partner"
KIOSK = "kiosk"


@dataclass(frozen=True, slots=True)
class CashBalance:
    rounds: int
    amount_minor: int
    last_settled_at: datetime | None


# The admin's kiosks, newest first.
ALL_KIOSKS = Listing(
    rows=select(Kiosk),
    key=Kiosk.id,
    base=Kiosk,
    filters=[equals("shop_id", Kiosk.shop_id), equals("status", Kiosk.status)],
    sorts={"createdAt": Kiosk.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
    key_order=SortOrder.ASC,
)
# A partner's kiosks (those of his shops) by name, as plain columns (KioskRow).
OWNED_KIOSKS = Listing(
    rows=select(
        Kiosk.id,
        Kiosk.name,
        Kiosk.location,
        Kiosk.status,
        Kiosk.last_error_code,
        Kiosk.default_language,
        Kiosk.last_active_at,
        Kiosk.shop_id,
        Kiosk.price_minor,
        Kiosk.currency,
    ),
    key=Kiosk.id,
    base=Kiosk,
    filters=[
        clause(
            "owner",
            Kiosk.shop_id.in_(select(Shop.id).where(Shop.partner_user_id == param("owner"))),
        )
    ],
    sorts={"name": Kiosk.name},
    default_sort="name",
    ids_first=False,
)


class KioskService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._activity = ActivityService(session)
        self._audit = AuditService(session)

    @property
    def session(self) -> AsyncSession:
        return self._db

    @property
    def settings(self) -> Settings:
        return self._settings

    # -- admin provisioning -------------------------------------------------------------

    def _check_language(self, language: str, field: str = "language") -> str:
        language = language.lower()
        if language not in self._settings.supported_languages:
            raise UnsupportedLanguage(
                details={
                    field: [f"must be one of: {', '.join(self._settings.supported_languages)}"]
                }
            )
        return language

    async def provision(self, admin: Principal, data: KioskCreate) -> tuple[Kiosk, str]:
        """Creates a kiosk and returns its device key, which is never stored in clear."""
        await ShopService(self._db).get(data.shop_id)
        language = self._check_language(data.default_language, field="defaultLanguage")
        device_key = new_token()
        kiosk = Kiosk(
            id=uuid.uuid4(),
            shop_id=data.shop_id,
            name=data.name,
            location=data.location,
            default_language=language,
            status=KioskStatus.ACTIVE,
            device_key_hash=token_hash(device_key),
        )
        self._db.add(kiosk)
        await self._db.flush()
        self._audit.record(
            admin,
            "KIOSK_CREATED",
            "kiosk",
            kiosk.id,
            new=data.model_dump(mode="json", by_alias=True),
        )
        return kiosk, device_key

    async def rotate_key(self, admin: Principal, kiosk_id: uuid.UUID) -> tuple[Kiosk, str]:
        kiosk = await self._db.get(Kiosk, kiosk_id, with_for_update=True)
        if kiosk is None:
            raise KioskNotFound()
        device_key = new_token()
        kiosk.device_key_hash = token_hash(device_key)
        kiosk_changed(self._db, kiosk.id)
        shop_changed(self._db, kiosk.shop_id)
        self._audit.record(admin, "KIOSK_KEY_ROTATED", "kiosk", kiosk.id)
        return kiosk, device_key

    async def list_all(
        self, page: int, page_size: int, shop_id: uuid.UUID | None, status: KioskStatus | None
    ) -> tuple[list[Kiosk], int]:
        found = await ALL_KIOSKS.page(
            self._db,
            {"shop_id": shop_id, "status": status.value if status is not None else None},
            page=page,
            page_size=page_size,
        )
        return [r.Kiosk for r in found.rows], found.total

    # -- the partner's side -------------------------------------------------------------

    @staticmethod
    def owned_by(partner_user_id: uuid.UUID) -> Select[Kiosk]:
        """Kiosks of the partner's shops, as a select to filter or join on."""
        return (
            select(Kiosk)
            .join(Shop, Shop.id == Kiosk.shop_id)
            .where(Shop.partner_user_id == partner_user_id)
        )

    async def list_owned(
        self, partner: Principal, page: int, page_size: int
    ) -> tuple[list[KioskRow], int]:
        """The partner's kiosks by name (rows with the kiosk's columns)."""
        found = await OWNED_KIOSKS.page(
            self._db,
            {"owner": partner.user_id},
            page=page,
            page_size=page_size,
            sort_order=SortOrder.ASC,
            count_when_full=True,
        )
        return [KioskRow._make(r) for r in found.rows], found.total

    async def get_owned(
        self, partner: Principal, kiosk_id: uuid.UUID, *, lock: bool = False
    ) -> Kiosk:
        """Raises KIOSK_NOT_FOUND (404) for a missing kiosk and another partner's alike."""
        stmt = self.owned_by(partner.user_id).where(Kiosk.id == kiosk_id)
        if lock:
            stmt = stmt.with_for_update(of=Kiosk)
        kiosk = (await self._db.execute(stmt)).scalar_one_or_none()
        if kiosk is None:
            raise KioskNotFound()
        return kiosk

    async def trouble(
        self, partner: Principal
    ) -> list[tuple[KioskRow, KioskErrorReport | None, bool]]:
        """The partner's kiosks needing a look: in error (with their last error report) or
        switched on but not heard within the online window. (kiosk, last error, online)."""
        kiosks, _ = await self.list_owned(partner, 1, 500)
        window = self._settings.online_window_seconds
        found = []
        for k in kiosks:
            online = k.last_active_at is not None and (
                (clock.now() - k.last_active_at).total_seconds() <= window
            )
            if k.status == KioskStatus.ERROR:
                errors = await self.recent_errors(k.id, 1)
                found.append((k, errors[0] if errors else None, online))
            elif k.status == KioskStatus.ACTIVE and not online:
                found.append((k, None, online))
        return found

    async def recent_errors(self, kiosk_id: uuid.UUID, limit: int) -> list[KioskErrorReport]:
        stmt = (
            select(KioskErrorReport)
            .where(KioskErrorReport.kiosk_id == kiosk_id)
            .order_by(KioskErrorReport.created_at.desc(), KioskErrorReport.id.desc())
            .limit(limit)
        )
        return list((await self._db.execute(stmt)).scalars())

    async def set_status(
        self, partner: Principal, kiosk_id: uuid.UUID, status: KioskStatus
    ) -> Kiosk:
        kiosk = await self.get_owned(partner, kiosk_id, lock=True)
        previous = kiosk.status
        kiosk.status = status.value
        kiosk_changed(self._db, kiosk.id)
        shop_changed(self._db, kiosk.shop_id)
        self._activity.record(
            ActivityEvent.KIOSK_STATUS_CHANGED,
            actor_type=PARTNER,
            actor_id=partner.user_id,
            kiosk_id=kiosk.id,
            previous=previous,
            status=status.value,
        )
        return kiosk

    async def set_language(self, partner: Principal, kiosk_id: uuid.UUID, language: str) -> Kiosk:
        language = self._check_language(language)
        kiosk = await self.get_owned(partner, kiosk_id, lock=True)
        previous = kiosk.default_language
        if language == previous:
            return kiosk  # already so: nothing changes, nothing is logged
        kiosk.default_language = language
        kiosk_changed(self._db, kiosk.id)
        shop_changed(self._db, kiosk.shop_id)
        self._activity.record(
            ActivityEvent.KIOSK_LANGUAGE_SET,
            actor_type=PARTNER,
            actor_id=partner.user_id,
            kiosk_id=kiosk.id,
            previous=previous,
            language=language,
        )
        return kiosk

    async def set_price(
        self, partner: Principal, kiosk_id: uuid.UUID, amount: Decimal, currency: str
    ) -> Kiosk:
        """The price of one round paid online. Sessions already opened keep their price."""
        kiosk = await self.get_owned(partner, kiosk_id, lock=True)
        minor = to_minor(amount)
        previous = (kiosk.price_minor, kiosk.currency)
        if previous == (minor, currency):
            return kiosk
        kiosk.price_minor, kiosk.currency = minor, currency
        self._activity.record(
            ActivityEvent.KIOSK_PRICE_SET,
            actor_type=PARTNER,
            actor_id=partner.user_id,
            kiosk_id=kiosk.id,
            previous={
                "pricePerRound": str(from_minor(previous[0])) if previous[0] is not None else None,
                "currency": previous[1],
            },
            pricePerRound=str(from_minor(minor)),
            currency=currency,
        )
        return kiosk

    async def cash_balance(self, kiosk_id: uuid.UUID) -> CashBalance:
        """Rounds granted by cash codes since the last settlement, and their value."""
        row = (
            await self._db.execute(
                select(
                    func.coalesce(func.sum(KioskCashEntry.rounds), 0),
                    func.coalesce(func.sum(KioskCashEntry.amount_minor), 0),
                    func.max(
                        case(
                            (
                                KioskCashEntry.entry_type == CashEntryType.SETTLEMENT.value,
                                KioskCashEntry.created_at,
                            )
                        )
                    ),
                ).where(KioskCashEntry.kiosk_id == kiosk_id)
            )
        ).one()
        return CashBalance(int(row[0]), int(row[1]), row[2])

    async def settle_cash(self, partner: Principal, kiosk_id: uuid.UUID) -> CashBalance:
        """Books the cash owed as collected: one SETTLEMENT entry of minus the balance,
        under the kiosk's lock (a redeem waits, and lands after it or before it)."""
        kiosk = await self.get_owned(partner, kiosk_id, lock=True)
        owed = await self.cash_balance(kiosk.id)
        if owed.rounds == 0 and owed.amount_minor == 0:
            return owed
        now = clock.now()
        self._db.add(
            KioskCashEntry(
                id=uuid.uuid4(),
                kiosk_id=kiosk.id,
                entry_type=CashEntryType.SETTLEMENT.value,
                rounds=-owed.rounds,
                amount_minor=-owed.amount_minor,
                currency=kiosk.currency,
                settled_by_user_id=partner.user_id,
                created_at=now,
            )
        )
        self._activity.record(
            ActivityEvent.KIOSK_CASH_SETTLED,
            actor_type=PARTNER,
            actor_id=partner.user_id,
            kiosk_id=kiosk.id,
            rounds=owed.rounds,
            amount=str(from_minor(owed.amount_minor)),
            currency=kiosk.currency,
        )
        await self._db.flush()
        return CashBalance(owed.rounds, owed.amount_minor, now)

    async def clear_error(self, partner: Principal, kiosk_id: uuid.UUID) -> Kiosk:
        """Back to `active` with no error code; a no-op (and no log) when nothing to clear."""
        kiosk = await self.get_owned(partner, kiosk_id, lock=True)
        if kiosk.status != KioskStatus.ERROR and kiosk.last_error_code is None:
            return kiosk
        now = clock.now()
        cleared_code = kiosk.last_error_code
        if kiosk.status == KioskStatus.ERROR:  # a switched-off kiosk stays off
            kiosk.status = KioskStatus.ACTIVE
        kiosk.last_error_code = None
        kiosk_changed(self._db, kiosk.id)
        shop_changed(self._db, kiosk.shop_id)
        await self._db.execute(
            update(KioskErrorReport)
            .where(KioskErrorReport.kiosk_id == kiosk.id, KioskErrorReport.cleared_at.is_(None))
            .values(cleared_at=now)
        )
        self._activity.record(
            ActivityEvent.KIOSK_ERROR_CLEARED,
            actor_type=PARTNER,
            actor_id=partner.user_id,
            kiosk_id=kiosk.id,
            code=cleared_code,
        )
        return kiosk

    # -- the device's side --------------------------------------------------------------

    async def authenticate(self, kiosk_id: uuid.UUID, device_key: str | None) -> Kiosk:
        """401 for an unknown key; 403 for a key of another kiosk; 404 never leaks."""
        if not device_key:
            raise InvalidDeviceKey()
        hashed = token_hash(device_key)
        kiosk = await self._db.get(Kiosk, kiosk_id)
        if kiosk is not None and same_hash(kiosk.device_key_hash, hashed):
            return kiosk
        other = await self._db.execute(select(Kiosk.id).where(Kiosk.device_key_hash == hashed))
        if other.scalar_one_or_none() is not None:
            raise WrongKiosk()
        raise InvalidDeviceKey()

    async def report_error(self, kiosk: Kiosk, report: ErrorReport) -> KioskErrorReport:
        now = clock.now()
        row = KioskErrorReport(
            id=uuid.uuid4(),
            kiosk_id=kiosk.id,
            code=report.code,
            message=report.message,
            created_at=now,
        )
        self._db.add(row)
        kiosk_changed(self._db, kiosk.id)
        shop_changed(self._db, kiosk.shop_id)
        await self._db.execute(
            update(Kiosk)
            .where(Kiosk.id == kiosk.id)
            .values(
                # A kiosk its partner switched off stays off: the error is only recorded.
                status=case(
                    (Kiosk.status == KioskStatus.INACTIVE, Kiosk.status),
                    else_=KioskStatus.ERROR.value,
                ),
                last_error_code=report.code,
                last_error_at=now,
                last_active_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        self._activity.record(
            ActivityEvent.KIOSK_ERROR_REPORTED,
            actor_type=KIOSK,
            actor_id=kiosk.id,
            kiosk_id=kiosk.id,
            code=report.code,
            message=report.message,
        )
        await self._db.flush()
        return row

    async def lock(self, kiosk: Kiosk) -> None:
        """Holds the kiosk's row until the transaction ends: its code redeems (and code
        issuing) then run one at a time."""
        await self._db.execute(select(Kiosk.id).where(Kiosk.id == kiosk.id).with_for_update())

    async def record_cash_round(self, kiosk: Kiosk, code_id: uuid.UUID) -> None:
        """A cash code was redeemed: one entry in the kiosk's cash ledger, worth the round
        price of the moment (0 while the kiosk has none)."""
        self._db.add(
            KioskCashEntry(
                id=uuid.uuid4(),
                kiosk_id=kiosk.id,
                code_id=code_id,
                entry_type=CashEntryType.FREE_ROUND.value,
                rounds=1,
                amount_minor=kiosk.price_minor or 0,
                currency=kiosk.currency,
            )
        )

    @staticmethod
    async def count_errors_older_than(
        maker: async_sessionmaker[AsyncSession], cutoff: datetime
    ) -> int:
        return await count_where(maker, KioskErrorReport.created_at < cutoff)

    @staticmethod
    async def purge_errors_older_than(
        maker: async_sessionmaker[AsyncSession], cutoff: datetime, batch_size: int
    ) -> int:
        """Deletes the error reports made before `cutoff` (retention, seed 000 §3), in batches."""
        return await delete_in_batches(
            maker, KioskErrorReport, KioskErrorReport.created_at < cutoff, batch_size
        )
