from iwm.core.errors import DomainError, NotFound


class EmailAlreadyExists(DomainError):
    status_code, code, message = 409, "EMAIL_ALREADY_EXISTS", "A user with this email exists"


class UserNotFound(NotFound):
    code, message = "USER_NOT_FOUND", "User not found"
