"""Admin investment strategies: /api/v1/admin/strategies."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import error_responses
from iwm.core.money import bp_to_percent, from_minor
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.categories.errors import CategoryNotFound
from iwm.modules.strategies.errors import HasActiveParticipations, StrategyNotFound
from iwm.modules.strategies.models import Strategy, StrategyStatus
from iwm.modules.strategies.schemas import (
    AdminStrategiesPage,
    AdminStrategy,
    CapacityRead,
    FinancialsRead,
    ParticipantsRead,
    ReturnRateRead,
    StrategyCreate,
    StrategyCreated,
    StrategyUpdate,
    StrategyUpdated,
)
from iwm.modules.strategies.service import StrategyService, StrategyStats
from iwm.modules.users.deps import AdminUser, SuperAdminUser

router = APIRouter(prefix="/api/v1/admin/strategies", tags=["admin: strategies"])

MAX_STRATEGY_PAGE = 50


def _read(row: Strategy, stats: StrategyStats) -> AdminStrategy:
    total = row.total_capacity_minor
    return AdminStrategy(
        id=row.id,
        name=row.name,
        status=row.status,
        risk_level=row.risk_level,
        return_rate=ReturnRateRead(
            min=bp_to_percent(row.return_min_bp),
            max=bp_to_percent(row.return_max_bp),
            expected=bp_to_percent(row.return_expected_bp),
        ),
        capacity=CapacityRead(
            total=None if total is None else from_minor(total),
            used=from_minor(row.used_capacity_minor),
            available=None if total is None else from_minor(total - row.used_capacity_minor),
        ),
        participants=ParticipantsRead(total=stats.participants, active=stats.active),
        financials=FinancialsRead(
            total_invested=from_minor(stats.invested_minor),
            total_returns_distributed=from_minor(stats.distributed_minor),
            pending_returns=from_minor(stats.pending_minor),
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("")
async def list_strategies(
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_STRATEGY_PAGE)] = 20,
    status_: Annotated[
        Literal["ACTIVE", "PAUSED", "CLOSED", "ALL"] | None, Query(alias="status")
    ] = None,
    category_id: Annotated[uuid.UUID | None, Query(alias="categoryId")] = None,
) -> Envelope[AdminStrategiesPage]:
    """Strategies with capacity, participants and financials."""
    wanted = None if status_ in (None, "ALL") else StrategyStatus(status_)
    rows, total = await StrategyService(session, resources.settings).list_page(
        page, page_size, wanted, category_id
    )
    return ok(
        AdminStrategiesPage(strategies=[_read(r, s) for r, s in rows]),
        pagination=PaginationMeta.build(total, page, page_size),
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(CategoryNotFound))
async def create_strategy(
    body: StrategyCreate, admin: SuperAdminUser, session: SessionDep, resources: ResourcesDep
) -> Envelope[StrategyCreated]:
    """Create a strategy (SUPER_ADMIN)."""
    row = await StrategyService(session, resources.settings).create(admin, body)
    return ok(
        StrategyCreated(
            id=row.id,
            name=row.name,
            slug=row.slug,
            status=row.status,
            created_at=row.created_at,
            created_by=admin.display_name,
        )
    )


@router.patch(
    "/{strategy_id}",
    responses=error_responses(StrategyNotFound, CategoryNotFound, HasActiveParticipations),
)
async def update_strategy(
    strategy_id: uuid.UUID,
    body: StrategyUpdate,
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
) -> Envelope[StrategyUpdated]:
    """Update a strategy; closing needs no active participations."""
    row = await StrategyService(session, resources.settings).update(admin, strategy_id, body)
    return ok(
        StrategyUpdated(
            id=row.id,
            name=row.name,
            status=row.status,
            updated_at=row.updated_at,
            updated_by=admin.display_name,
        )
    )
