"""A member in the partner programme: /api/v1/me/partner, /network, /balance (SPEC §8)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.pagination import Page
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.network.errors import AlreadyPartner, PartnerNotFound
from iwm.modules.network.schemas import MemberBalance, MemberNetwork, MemberPartner
from iwm.modules.network.service import MAX_DEPTH, NetworkService
from iwm.modules.users.deps import ActiveMember, CurrentUser
from iwm.modules.users.errors import EmailNotVerified

router = APIRouter(
    prefix="/api/v1/me",
    tags=["member: partner programme"],
    responses=error_responses(Unauthorized, RateLimited),
)


async def network_service(session: SessionDep, resources: ResourcesDep) -> NetworkService:
    return NetworkService(session, resources.settings)


async def network_reader(session: ReadSessionDep, resources: ResourcesDep) -> NetworkService:
    return NetworkService(session, resources.settings)


NetworkServiceDep = Annotated[NetworkService, Depends(network_service)]
NetworkReaderDep = Annotated[NetworkService, Depends(network_reader)]


@router.post(
    "/partner",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(EmailNotVerified, AlreadyPartner),
)
async def join_programme(
    member: ActiveMember, network: NetworkServiceDep
) -> Envelope[MemberPartner]:
    """Join the partner programme under the sponsor I signed up with."""
    await network.join(member.user_id, None)
    return ok(await network.member_partner(member.user_id))


@router.get("/partner", responses=error_responses(PartnerNotFound))
async def my_partner_profile(
    member: CurrentUser, network: NetworkReaderDep
) -> Envelope[MemberPartner]:
    """My referral code and link, sponsor, rank and status."""
    return ok(await network.member_partner(member.user_id))


@router.get("/network", responses=error_responses(ValidationFailed, PartnerNotFound))
async def my_network(
    member: CurrentUser,
    network: NetworkReaderDep,
    page: Page,
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = MAX_DEPTH,
) -> Envelope[MemberNetwork]:
    """My downline to `depth` levels (1-10): names, level, rank, personal volume."""
    data, total = await network.member_network(member.user_id, depth, page.page, page.page_size)
    return ok(data, pagination=PaginationMeta.build(total, page.page, page.page_size))


@router.get("/balance", responses=error_responses(PartnerNotFound))
async def my_balance(member: CurrentUser, network: NetworkReaderDep) -> Envelope[MemberBalance]:
    """My balances: available, pending, earned and withdrawn."""
    return ok(await network.member_balance(member.user_id))
