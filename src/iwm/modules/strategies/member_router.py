"""The members' investment catalogue: /api/v1/strategies (SPEC §8)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from iwm.core.deps import ReadSessionDep, ResourcesDep
from iwm.core.errors import RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.listing import SortOrder
from iwm.core.money import bp_to_percent, from_minor
from iwm.core.pagination import Page
from iwm.core.query import SearchText
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.categories.models import Category
from iwm.modules.strategies.errors import StrategyNotFound
from iwm.modules.strategies.models import Strategy
from iwm.modules.strategies.schemas import (
    CatalogueDuration,
    CatalogueInvestment,
    CatalogueReturnRate,
    CatalogueStrategiesPage,
    CatalogueStrategy,
    CatalogueStrategyCategory,
    TermsRead,
)
from iwm.modules.strategies.service import StrategyService
from iwm.modules.users.deps import CurrentUser

router = APIRouter(
    prefix="/api/v1/strategies",
    tags=["member: catalogue"],
    responses=error_responses(Unauthorized, RateLimited),
)


async def strategy_reader(session: ReadSessionDep, resources: ResourcesDep) -> StrategyService:
    return StrategyService(session, resources.settings)


StrategyReaderDep = Annotated[StrategyService, Depends(strategy_reader)]


def catalogue_strategy(row: Strategy, category: Category | None) -> CatalogueStrategy:
    total = row.total_capacity_minor
    return CatalogueStrategy(
        id=row.id,
        name=row.name,
        slug=row.slug,
        short_description=row.short_description,
        description=row.description,
        category=(
            CatalogueStrategyCategory(id=category.id, name=category.name, slug=category.slug)
            if category is not None
            else None
        ),
        risk_level=row.risk_level,
        risk_disclosure=row.risk_disclosure,
        return_rate=CatalogueReturnRate(
            min=bp_to_percent(row.return_min_bp),
            max=bp_to_percent(row.return_max_bp),
            expected=bp_to_percent(row.return_expected_bp),
            type=row.return_type,
            payout_frequency=row.payout_frequency,
        ),
        duration=CatalogueDuration(
            min_days=row.min_days, max_days=row.max_days, lock_period_days=row.lock_period_days
        ),
        investment=CatalogueInvestment(
            min_amount=from_minor(row.min_amount_minor),
            max_amount=None if row.max_amount_minor is None else from_minor(row.max_amount_minor),
            currency=row.currency,
            available_capacity=(
                None if total is None else from_minor(max(0, total - row.used_capacity_minor))
            ),
        ),
        terms=TermsRead.of(row.terms or {}),
    )


@router.get("", responses=error_responses(ValidationFailed))
async def list_strategies(
    member: CurrentUser,
    strategies: StrategyReaderDep,
    page: Page,
    category_id: Annotated[uuid.UUID | None, Query(alias="categoryId")] = None,
    search: Annotated[SearchText | None, Query(min_length=1, max_length=100)] = None,
    sort_by: Annotated[Literal["createdAt", "name"], Query(alias="sortBy")] = "createdAt",
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = SortOrder.DESC,
) -> Envelope[CatalogueStrategiesPage]:
    """Active strategies, by category (its children included) and search text."""
    rows, total = await strategies.catalogue(
        page.page,
        page.page_size,
        category_id=category_id,
        search=search.strip() or None if search else None,
        sort_by=sort_by,
        sort_order=sort_order,
    )
    return ok(
        CatalogueStrategiesPage(strategies=[catalogue_strategy(s, c) for s, c in rows]),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.get("/{strategy_id}", responses=error_responses(StrategyNotFound))
async def get_strategy(
    strategy_id: uuid.UUID, member: CurrentUser, strategies: StrategyReaderDep
) -> Envelope[CatalogueStrategy]:
    """One active strategy with its terms."""
    return ok(catalogue_strategy(*await strategies.in_catalogue(strategy_id)))
