from iwm.core.errors import DomainError


class InvalidCredentials(DomainError):
    status_code, code, message = 401, "INVALID_CREDENTIALS", "Email or password is incorrect"


class AccountDisabled(DomainError):
    status_code, code, message = 403, "ACCOUNT_SUSPENDED", "This account is suspended"


class InvalidReferralCode(DomainError):
    status_code, code, message = 400, "INVALID_REFERRAL_CODE", "Unknown referral code"


class InvalidToken(DomainError):
    status_code, code, message = 400, "INVALID_TOKEN", "This link is invalid, used or expired"


class InvalidPassword(DomainError):
    status_code, code, message = 400, "INVALID_PASSWORD", "The current password is incorrect"


class TwoFactorRequired(DomainError):
    status_code, code, message = 401, "TWO_FACTOR_REQUIRED", "A two-factor code is required"


class InvalidTwoFactorCode(DomainError):
    status_code, code, message = 401, "INVALID_TWO_FACTOR_CODE", "The two-factor code is wrong"


class WrongTwoFactorCode(DomainError):
    """A wrong code while signed in (enable, disable): the session itself is fine."""

    status_code, code, message = 400, "INVALID_TWO_FACTOR_CODE", "The two-factor code is wrong"


class TwoFactorNotSetUp(DomainError):
    status_code, code, message = 400, "TWO_FACTOR_NOT_SET_UP", "Set up two-factor sign-in first"


class TwoFactorAlreadyEnabled(DomainError):
    status_code, code, message = 409, "TWO_FACTOR_ALREADY_ENABLED", "Two-factor is already on"


class TwoFactorNotEnabled(DomainError):
    status_code, code, message = 400, "TWO_FACTOR_NOT_ENABLED", "Two-factor sign-in is off"


class AccountHasFunds(DomainError):
    status_code, code, message = (
        409,
        "ACCOUNT_HAS_FUNDS",
        "Withdraw the partner balance before closing the account",
    )
