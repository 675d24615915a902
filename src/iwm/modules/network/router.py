"""Admin view of network partners and their sponsor tree: /api/v1/admin/partners."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.listing import SortOrder
from iwm.core.pagination import Page
from iwm.core.query import SearchText
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.network.errors import PartnerNotFound
from iwm.modules.network.models import PartnerStatus
from iwm.modules.network.schemas import (
    AdminPartnersList,
    PartnerNetwork,
    PartnerSortField,
    PartnerStatusChange,
    PartnerStatusChanged,
    PartnerStatusFilter,
)
from iwm.modules.network.service import MAX_DEPTH, NetworkService, PartnerFilters
from iwm.modules.users.deps import AdminUser, SuperAdminUser

router = APIRouter(
    prefix="/api/v1/admin/partners",
    tags=["admin: partners"],
    responses=error_responses(Unauthorized, Forbidden, RateLimited),
)


async def network_service(session: SessionDep, resources: ResourcesDep) -> NetworkService:
    return NetworkService(session, resources.settings)


NetworkServiceDep = Annotated[NetworkService, Depends(network_service)]


async def network_reader(session: ReadSessionDep, resources: ResourcesDep) -> NetworkService:
    return NetworkService(session, resources.settings)


# For the endpoints that only read (no transaction around their statements).
NetworkReaderDep = Annotated[NetworkService, Depends(network_reader)]


@router.get("", responses=error_responses(ValidationFailed))
async def list_partners(
    admin: AdminUser,
    network: NetworkReaderDep,
    page: Page,
    status: PartnerStatusFilter = PartnerStatusFilter.ALL,
    rank: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    search: Annotated[SearchText | None, Query(min_length=1, max_length=100)] = None,
    sort_by: Annotated[PartnerSortField, Query(alias="sortBy")] = PartnerSortField.CREATED_AT,
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = SortOrder.DESC,
) -> Envelope[AdminPartnersList]:
    """Network partners, filtered, searched by name or referral code, and sorted."""
    filters = PartnerFilters(
        status=None if status is PartnerStatusFilter.ALL else PartnerStatus(status.value),
        rank=rank,
        search=search.strip() or None if search else None,
        sort_by=sort_by,
        sort_order=sort_order,
    )
    items, total = await network.list(filters, page.page, page.page_size)
    return ok(
        AdminPartnersList(partners=items),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.get("/{partner_id}/network", responses=error_responses(ValidationFailed, PartnerNotFound))
async def get_network(
    partner_id: uuid.UUID,
    admin: AdminUser,
    network: NetworkReaderDep,
    page: Page,
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = MAX_DEPTH,
) -> Envelope[PartnerNetwork]:
    """The partner's downline to `depth` levels (1-10), level by level."""
    data, total = await network.network(partner_id, depth, page.page, page.page_size)
    return ok(data, pagination=PaginationMeta.build(total, page.page, page.page_size))


@router.post("/{partner_id}/status", responses=error_responses(ValidationFailed, PartnerNotFound))
async def set_partner_status(
    partner_id: uuid.UUID,
    body: PartnerStatusChange,
    admin: SuperAdminUser,
    network: NetworkServiceDep,
) -> Envelope[PartnerStatusChanged]:
    """Suspend, terminate or reinstate a network partner, with a reason (SUPER_ADMIN)."""
    partner, previous = await network.set_status(
        admin, partner_id, PartnerStatus(body.status), body.reason.strip()
    )
    return ok(
        PartnerStatusChanged(
            id=partner.id,
            status=partner.status,
            previous_status=previous,
            reason=body.reason.strip(),
            changed_at=partner.updated_at,
            changed_by=admin.display_name,
        )
    )
