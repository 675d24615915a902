from iwm.core.errors import DomainError, NotFound

# Moved to core (member avatars use it too); kept here for the order routes.
from iwm.core.images import InvalidImage as InvalidImage  # noqa: PLC0414


class OrderNotFound(NotFound):
    code, message = "ORDER_NOT_FOUND", "Order not found"


class ImageTooLarge(DomainError):
    status_code, code, message = 413, "PAYLOAD_TOO_LARGE", "The photo is larger than allowed"
