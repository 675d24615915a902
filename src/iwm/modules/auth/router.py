from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status

from iwm.core.deps import SESSION_COOKIE, ResourcesDep, SessionDep, client_ip
from iwm.core.errors import RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.mail import MailMessage
from iwm.core.resources import Resources
from iwm.core.schemas import Envelope, ok
from iwm.modules.auth.accounts import AccountService
from iwm.modules.auth.errors import (
    AccountDisabled,
    AccountHasFunds,
    InvalidCredentials,
    InvalidPassword,
    InvalidReferralCode,
    InvalidToken,
    InvalidTwoFactorCode,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorNotSetUp,
    TwoFactorRequired,
    WrongTwoFactorCode,
)
from iwm.modules.auth.schemas import (
    Accepted,
    AccountAnswer,
    AccountClosed,
    AccountUser,
    AuthUser,
    ChangePasswordRequest,
    CloseAccount,
    CodeRequest,
    EmailRequest,
    LoginRequest,
    LoginResponse,
    LogoutResponse,
    RecoveryCodes,
    RegisterRequest,
    ResetRequest,
    SessionsRevoked,
    TokenRequest,
    TwoFactorOff,
    TwoFactorSetup,
)
from iwm.modules.auth.service import AuthService
from iwm.modules.auth.two_factor import TwoFactorService
from iwm.modules.users.deps import CurrentUser
from iwm.modules.users.errors import EmailAlreadyExists
from iwm.modules.users.models import User

router = APIRouter(prefix="/auth", tags=["auth"])
# Closing the account belongs with the credentials it checks and ends; it sits beside the
# member's other /api/v1/me routes (the `accounts` module).
close_router = APIRouter(prefix="/api/v1/me", tags=["me"])


async def account_service(session: SessionDep, resources: ResourcesDep) -> AccountService:
    return AccountService(session, resources)


AccountServiceDep = Annotated[AccountService, Depends(account_service)]


def _send_after_commit(
    tasks: BackgroundTasks, resources: Resources, mail: MailMessage | None
) -> None:
    # Background tasks run after the response, i.e. after the request's commit: a
    # rolled-back sign-up never mails a link that does not work.
    if mail is not None:
        tasks.add_task(resources.mail.send, mail)


def _account(user: User) -> AccountAnswer:
    return AccountAnswer(
        user=AccountUser(id=user.id, email=user.email, status=user.status, roles=sorted(user.roles))
    )


@router.post(
    "/login",
    responses=error_responses(
        InvalidCredentials, TwoFactorRequired, InvalidTwoFactorCode, AccountDisabled, RateLimited
    ),
)
async def login(body: LoginRequest, request: Request, resources: ResourcesDep) -> LoginResponse:
    """Exchange email and password (and the two-factor code, when on) for a session token."""
    result = await AuthService.login(
        resources,
        body.email,
        body.password,
        client_ip(request),
        code=body.code,
        user_agent=request.headers.get("user-agent"),
    )
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


# -- member accounts -----------------------------------------------------------------


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        ValidationFailed, InvalidReferralCode, EmailAlreadyExists, RateLimited
    ),
)
async def register(
    body: RegisterRequest,
    request: Request,
    accounts: AccountServiceDep,
    resources: ResourcesDep,
    tasks: BackgroundTasks,
) -> AccountAnswer:
    """Sign up (optionally under a sponsor's referral code); a link to verify the address
    is mailed."""
    ip = client_ip(request)
    await accounts.limit("register", ip, body.email)
    registered = await accounts.register(body, ip)
    _send_after_commit(tasks, resources, registered.mail)
    return _account(registered.user)


@router.post("/verify-email", responses=error_responses(ValidationFailed, InvalidToken))
async def verify_email(
    body: TokenRequest, request: Request, accounts: AccountServiceDep
) -> AccountAnswer:
    """Verify the email address with the token of the mailed link; the account is ACTIVE."""
    return _account(await accounts.verify_email(body.token, client_ip(request)))


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(ValidationFailed, RateLimited),
)
async def resend_verification(
    body: EmailRequest,
    request: Request,
    accounts: AccountServiceDep,
    resources: ResourcesDep,
    tasks: BackgroundTasks,
) -> Accepted:
    """Mail a new verification link (202 whether or not the address has an account)."""
    await accounts.limit("resend", client_ip(request), body.email)
    _send_after_commit(tasks, resources, await accounts.resend_verification(body.email))
    return Accepted()


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(ValidationFailed, RateLimited),
)
async def forgot_password(
    body: EmailRequest,
    request: Request,
    accounts: AccountServiceDep,
    resources: ResourcesDep,
    tasks: BackgroundTasks,
) -> Accepted:
    """Mail a password reset link (202 whether or not the address has an account)."""
    await accounts.limit("forgot", client_ip(request), body.email)
    _send_after_commit(tasks, resources, await accounts.forgot_password(body.email))
    return Accepted()


@router.post(
    "/password/reset", responses=error_responses(ValidationFailed, InvalidToken, RateLimited)
)
async def reset_password(
    body: ResetRequest, request: Request, accounts: AccountServiceDep
) -> SessionsRevoked:
    """Set a new password with the token of the mailed link; every session ends."""
    ip = client_ip(request)
    await accounts.limit("reset", ip)
    result = await accounts.reset_password(body.token, body.password, ip)
    return SessionsRevoked(sessions_revoked=result.sessions_revoked)


@router.post(
    "/password/change",
    responses=error_responses(ValidationFailed, Unauthorized, InvalidPassword, RateLimited),
)
async def change_password(
    body: ChangePasswordRequest, principal: CurrentUser, accounts: AccountServiceDep
) -> SessionsRevoked:
    """Change the password; the account's other sessions end, this one stays."""
    result = await accounts.change_password(principal, body.current_password, body.new_password)
    return SessionsRevoked(sessions_revoked=result.sessions_revoked)


@router.post("/2fa/setup", responses=error_responses(Unauthorized, TwoFactorAlreadyEnabled))
async def two_factor_setup(principal: CurrentUser, session: SessionDep) -> TwoFactorSetup:
    """A new TOTP secret and its otpauth:// URI for an authenticator app (not yet on)."""
    setup = await TwoFactorService(session).setup(principal.user_id, principal.email)
    return TwoFactorSetup(secret=setup.secret, otpauth_uri=setup.otpauth_uri)


@router.post(
    "/2fa/enable",
    responses=error_responses(
        ValidationFailed,
        Unauthorized,
        TwoFactorNotSetUp,
        TwoFactorAlreadyEnabled,
        WrongTwoFactorCode,
    ),
)
async def two_factor_enable(
    body: CodeRequest, principal: CurrentUser, session: SessionDep, accounts: AccountServiceDep
) -> RecoveryCodes:
    """Turn two-factor sign-in on with a first code; the recovery codes are shown once."""
    codes = await TwoFactorService(session).enable(principal.user_id, body.code)
    accounts.audit_own(principal, "TWO_FACTOR_ENABLED", {"twoFactorMethod": "TOTP"})
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/2fa/disable",
    responses=error_responses(
        ValidationFailed, Unauthorized, TwoFactorNotEnabled, WrongTwoFactorCode
    ),
)
async def two_factor_disable(
    body: CodeRequest, principal: CurrentUser, session: SessionDep, accounts: AccountServiceDep
) -> TwoFactorOff:
    """Turn two-factor sign-in off, with a current code or a recovery code."""
    await TwoFactorService(session).disable(principal.user_id, body.code)
    accounts.audit_own(principal, "TWO_FACTOR_DISABLED", {"twoFactorMethod": None})
    return TwoFactorOff()


@close_router.delete(
    "",
    responses=error_responses(
        ValidationFailed,
        Unauthorized,
        InvalidPassword,
        WrongTwoFactorCode,
        AccountHasFunds,
        RateLimited,
    ),
)
async def close_account(
    body: CloseAccount, principal: CurrentUser, accounts: AccountServiceDep
) -> Envelope[AccountClosed]:
    """Close my account for good: personal data erased, every session ended."""
    result = await accounts.close(principal, body.password, body.code)
    user = result.user
    return ok(
        AccountClosed(
            id=user.id,
            status=user.status,
            closed_at=user.closed_at or user.updated_at,
            sessions_revoked=result.sessions_revoked,
        )
    )
