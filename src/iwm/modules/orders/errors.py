from iwm.core.errors import DomainError, NotFound


class OrderNotFound(NotFound):
    code, message = "ORDER_NOT_FOUND", "Order not found"


class InvalidImage(DomainError):
    status_code, code, message = 400, "VALIDATION_ERROR", "The photo must be a JPEG or PNG image"


class ImageTooLarge(DomainError):
    status_code, code, message = 413, "PAYLOAD_TOO_LARGE", "The photo is larger than allowed"
