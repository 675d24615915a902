from iwm.core.errors import DomainError, NotFound


class EmailAlreadyExists(DomainError):
    status_code, code, message = 409, "EMAIL_ALREADY_EXISTS", "A user with this email exists"


class UserNotFound(NotFound):
    code, message = "USER_NOT_FOUND", "User not found"


class CannotModifySuperAdmin(DomainError):
    status_code, code, message = (
        403,
        "CANNOT_MODIFY_SUPER_ADMIN",
        "Only a SUPER_ADMIN may modify a SUPER_ADMIN user",
    )


class CannotSuspendAdmin(DomainError):
    status_code, code, message = 403, "CANNOT_SUSPEND_ADMIN", "Administrators cannot be suspended"


class AlreadySuspended(DomainError):
    status_code, code, message = 400, "ALREADY_SUSPENDED", "User is already suspended"


class NotSuspended(DomainError):
    status_code, code, message = 400, "NOT_SUSPENDED", "User is not suspended"


class EmailNotVerified(DomainError):
    status_code, code, message = 403, "EMAIL_NOT_VERIFIED", "Verify your email address first"


class AddressNotFound(NotFound):
    code, message = "ADDRESS_NOT_FOUND", "Address not found"
