"""Who is calling, and the role guards every router uses."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from limits import RateLimitItemPerSecond

from iwm.core.deps import ResourcesDep, bearer_token, client_ip
from iwm.core.errors import Forbidden, Unauthorized
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.core.security import token_hash
from iwm.modules.users.errors import EmailNotVerified
from iwm.modules.users.models import UserStatus
from iwm.modules.users.service import resolve_principal


async def current_principal(request: Request) -> Principal:
    """The session behind the Bearer token; 401 otherwise. Never the dashboard's cookie: a
    browser sends that with any request, from any page, and only the dashboard checks a
    CSRF token with it. (Every authenticated request runs this: the resources come from
    the app rather than through one more dependency.)"""
    token = bearer_token(request)
    if not token:
        raise Unauthorized()
    resources: Resources = request.app.state.resources
    principal = await resolve_principal(resources, token_hash(token), client_ip(request))
    if principal is None:
        raise Unauthorized()
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


async def active_member(principal: CurrentUser) -> Principal:
    """The caller, once the account's email address is verified: 401 without a session,
    403 EMAIL_NOT_VERIFIED while the account is PENDING_VERIFICATION. For what a member may
    do only with a verified account (shop orders, investments, payout requests)."""
    if principal.status == UserStatus.PENDING_VERIFICATION:
        raise EmailNotVerified()
    return principal


ActiveMember = Annotated[Principal, Depends(active_member)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def guard(principal: CurrentUser) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden()
        return principal

    return guard


def admin_guard(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """401 without a session, 403 without one of `roles`, then 429 past the general admin
    rate limit of seed 004 (per admin, shared through Redis in production)."""

    async def guard(principal: CurrentUser, resources: ResourcesDep) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden()
        settings = resources.settings
        rule = RateLimitItemPerSecond(
            settings.admin_rate_limit_per_minute, settings.admin_rate_limit_window_seconds
        )
        await resources.limiter.hit(rule, "admin", str(principal.user_id))
        return principal

    return guard


PartnerUser = Annotated[Principal, Depends(require_roles(Role.PARTNER))]
AdminUser = Annotated[Principal, Depends(admin_guard(Role.ADMIN, Role.SUPER_ADMIN))]
SuperAdminUser = Annotated[Principal, Depends(admin_guard(Role.SUPER_ADMIN))]
