from iwm.core.errors import DomainError


class InvalidCredentials(DomainError):
    status_code, code, message = 401, "INVALID_CREDENTIALS", "Email or password is incorrect"


class AccountDisabled(DomainError):
    status_code, code, message = 403, "ACCOUNT_SUSPENDED", "This account is suspended"
