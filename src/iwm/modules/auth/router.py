from fastapi import APIRouter, Request, Response

from iwm.core.deps import SESSION_COOKIE, ResourcesDep, client_ip
from iwm.core.errors import RateLimited, Unauthorized, error_responses
from iwm.modules.auth.errors import AccountDisabled, InvalidCredentials
from iwm.modules.auth.schemas import AuthUser, LoginRequest, LoginResponse, LogoutResponse
from iwm.modules.auth.service import AuthService
from iwm.modules.users.deps import CurrentUser

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", responses=error_responses(InvalidCredentials, AccountDisabled, RateLimited))
async def login(body: LoginRequest, request: Request, resources: ResourcesDep) -> LoginResponse:
    """Exchange email and password for a session token."""
    result = await AuthService.login(resources, body.email, body.password, client_ip(request))
    return LoginResponse(
        token=result.token,
        expires_at=result.expires_at,
        user=AuthUser(id=result.user.id, email=result.user.email, roles=sorted(result.user.roles)),
    )


@router.post("/logout", responses=error_responses(Unauthorized))
async def logout(
    principal: CurrentUser, resources: ResourcesDep, response: Response
) -> LogoutResponse:
    """End the current session."""
    await AuthService.logout(resources, principal)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return LogoutResponse()


@router.get("/me", responses=error_responses(Unauthorized))
async def me(principal: CurrentUser) -> AuthUser:
    """The signed-in user."""
    return AuthUser(id=principal.user_id, email=principal.email, roles=sorted(principal.roles))
