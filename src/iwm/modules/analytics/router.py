"""Admin analytics: /api/v1/admin/analytics."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from iwm.core.deps import SessionDep, SettingsDep
from iwm.core.errors import RateLimited, ValidationFailed, error_responses
from iwm.core.schemas import Envelope, ok
from iwm.modules.analytics.kiosk_service import KioskAnalyticsService
from iwm.modules.analytics.periods import DEFAULT_GRANULARITY, Granularity, Period, Window
from iwm.modules.analytics.schemas import (
    CommissionAnalyticsResponse,
    DashboardResponse,
    KioskAnalyticsResponse,
    SalesResponse,
)
from iwm.modules.analytics.service import AnalyticsService
from iwm.modules.kiosks.errors import KioskNotFound
from iwm.modules.network.errors import PartnerNotFound
from iwm.modules.users.deps import AdminUser

router = APIRouter(
    prefix="/api/v1/admin/analytics",
    tags=["admin: analytics"],
    responses=error_responses(ValidationFailed, RateLimited),
)

RangePeriod = Literal["WEEK", "MONTH", "QUARTER", "YEAR"]
PeriodQuery = Annotated[RangePeriod, Query()]
GranularityQuery = Annotated[Granularity | None, Query()]


@router.get("/dashboard")
async def dashboard(
    admin: AdminUser, session: SessionDep, period: Annotated[Period, Query()] = Period.MONTH
) -> Envelope[DashboardResponse]:
    """Platform figures of a period beside their totals."""
    return ok(await AnalyticsService(session).dashboard(Window.of(period)))


@router.get("/sales")
async def sales(
    admin: AdminUser,
    session: SessionDep,
    period: PeriodQuery = "MONTH",
    granularity: GranularityQuery = None,
    category_id: Annotated[uuid.UUID | None, Query(alias="categoryId")] = None,
) -> Envelope[SalesResponse]:
    """Shop sales of a period: timeline, categories, products, payment methods, regions."""
    p = Period(period)
    return ok(
        await AnalyticsService(session).sales(
            Window.of(p), granularity or DEFAULT_GRANULARITY[p], category_id
        )
    )


@router.get("/commissions")
async def commissions(
    admin: AdminUser,
    session: SessionDep,
    period: PeriodQuery = "MONTH",
    granularity: GranularityQuery = None,
) -> Envelope[CommissionAnalyticsResponse]:
    """Commissions of a period: timeline, sources, levels, ranks, top earners, payouts."""
    p = Period(period)
    return ok(
        await AnalyticsService(session).commissions(
            Window.of(p), granularity or DEFAULT_GRANULARITY[p]
        )
    )


@router.get("/kiosks", responses=error_responses(PartnerNotFound, KioskNotFound))
async def kiosks(
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    period: Annotated[Period, Query()] = Period.MONTH,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
    kiosk_id: Annotated[uuid.UUID | None, Query(alias="kioskId")] = None,
) -> Envelope[KioskAnalyticsResponse]:
    """Kiosk orders, print rate, errors and estimated uptime per partner and per kiosk."""
    data = await KioskAnalyticsService(session, settings).kiosks(
        Window.of(period), partner_id, kiosk_id
    )
    return ok(
        data,
        ordersRetentionDays=settings.order_retention_days,
        kioskErrorsRetentionDays=settings.kiosk_error_retention_days,
        uptime="hours with kiosk activity / hours the kiosk existed in the period (estimate)",
    )
