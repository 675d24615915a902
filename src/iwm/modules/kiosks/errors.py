from iwm.core.errors import DomainError, NotFound


class KioskNotFound(NotFound):
    code, message = "KIOSK_NOT_FOUND", "Kiosk not found"


class UnsupportedLanguage(DomainError):
    status_code, code, message = 400, "VALIDATION_ERROR", "Language is not supported"


class InvalidDeviceKey(DomainError):
    status_code, code, message = 401, "UNAUTHORIZED", "Missing or invalid device key"


class WrongKiosk(DomainError):
    status_code, code, message = 403, "FORBIDDEN", "This device key belongs to another kiosk"


class KioskInactive(DomainError):
    status_code, code, message = 409, "KIOSK_INACTIVE", "The kiosk is switched off"
