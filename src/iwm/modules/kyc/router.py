"""Admin KYC review: /api/v1/admin/kyc (seed 004)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from iwm.core import clock
from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.listing import SortOrder
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.kyc.errors import KycNotFound, NotReviewable
from iwm.modules.kyc.models import KycPriority
from iwm.modules.kyc.schemas import (
    Approved,
    ApproveRequest,
    InfoRequested,
    KycDetail,
    KycQueue,
    QueueSortField,
    QueueStatus,
    Rejected,
    RejectRequest,
    RequestInfoRequest,
)
from iwm.modules.kyc.service import KycService, QueueFilters, requested
from iwm.modules.users.deps import AdminUser

router = APIRouter(
    prefix="/api/v1/admin/kyc",
    tags=["admin: kyc"],
    responses=error_responses(Unauthorized, Forbidden, RateLimited),
)
MAX_QUEUE_PAGE = 50


async def kyc_service(session: SessionDep, resources: ResourcesDep) -> KycService:
    return KycService(session, resources.settings, resources.storage)


KycServiceDep = Annotated[KycService, Depends(kyc_service)]


@router.get("/queue", responses=error_responses(ValidationFailed))
async def queue(
    admin: AdminUser,
    kyc: KycServiceDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_QUEUE_PAGE)] = 20,
    status: QueueStatus | None = None,
    priority: KycPriority | None = None,
    sort_by: Annotated[QueueSortField, Query(alias="sortBy")] = QueueSortField.SUBMITTED_AT,
    sort_order: Annotated[SortOrder | None, Query(alias="sortOrder")] = None,
) -> Envelope[KycQueue]:
    """Submissions awaiting review (oldest first by default), with queue statistics."""
    filters = QueueFilters(status=status, priority=priority, sort_by=sort_by, sort_order=sort_order)
    data, total = await kyc.queue(filters, page, page_size)
    return ok(data, pagination=PaginationMeta.build(total, page, page_size))


@router.get("/{kyc_id}", responses=error_responses(KycNotFound))
async def detail(kyc_id: uuid.UUID, admin: AdminUser, kyc: KycServiceDep) -> Envelope[KycDetail]:
    """One verification with personal data, document links and history."""
    return ok(await kyc.detail(kyc_id))


@router.post(
    "/{kyc_id}/approve",
    responses=error_responses(ValidationFailed, KycNotFound, NotReviewable),
)
async def approve(
    kyc_id: uuid.UUID, body: ApproveRequest, admin: AdminUser, kyc: KycServiceDep
) -> Envelope[Approved]:
    """Approve a verification at a level."""
    return ok(await kyc.approve(admin, kyc_id, body))


@router.post(
    "/{kyc_id}/reject",
    responses=error_responses(ValidationFailed, KycNotFound, NotReviewable),
)
async def reject(
    kyc_id: uuid.UUID, body: RejectRequest, admin: AdminUser, kyc: KycServiceDep
) -> Envelope[Rejected]:
    """Reject a verification, naming the faulty documents."""
    return ok(await kyc.reject(admin, kyc_id, body))


@router.post(
    "/{kyc_id}/request-info",
    responses=error_responses(ValidationFailed, KycNotFound, NotReviewable),
)
async def request_info(
    kyc_id: uuid.UUID, body: RequestInfoRequest, admin: AdminUser, kyc: KycServiceDep
) -> Envelope[InfoRequested]:
    """Ask the member for more (NEEDS_INFO), naming the documents to upload again."""
    v = await kyc.request_info(admin, kyc_id, body.note, body.documents)
    return ok(
        InfoRequested(
            id=v.id,
            user_id=v.user_id,
            status=v.status,
            note=body.note,
            requested_documents=requested(await kyc.documents(v.id)),
            requested_at=clock.now(),
            requested_by=admin.display_name,
        )
    )
