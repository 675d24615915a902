"""Role guards of the admin surface, each counting the request against the general
admin rate limit of seed 004 (per admin, shared through Redis in production)."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends
from limits import RateLimitItemPerSecond

from iwm.core.deps import ResourcesDep
from iwm.core.errors import Forbidden
from iwm.core.principal import Principal, Role
from iwm.modules.auth.deps import CurrentUser


def admin_guard(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """401 without a session, 403 without one of `roles`, then 429 past the limit."""

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


AdminUser = Annotated[Principal, Depends(admin_guard(Role.ADMIN, Role.SUPER_ADMIN))]
SuperAdminUser = Annotated[Principal, Depends(admin_guard(Role.SUPER_ADMIN))]
