from iwm.core.errors import DomainError, NotFound


class SessionNotFound(NotFound):
    code, message = "SESSION_NOT_FOUND", "Session not found"


class AvatarTooLarge(DomainError):
    status_code, code, message = 413, "PAYLOAD_TOO_LARGE", "The photo is larger than allowed"
