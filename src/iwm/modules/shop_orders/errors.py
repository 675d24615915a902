from iwm.core.errors import DomainError


class ShopOrderNotFound(DomainError):
    status_code, code, message = 404, "ORDER_NOT_FOUND", "Order not found"


class InvalidTransition(DomainError):
    status_code, code, message = 400, "VALIDATION_ERROR", "Invalid order status transition"


class ProductNotAvailable(DomainError):
    status_code, code, message = 400, "PRODUCT_NOT_AVAILABLE", "Product is not available"


class InsufficientStock(DomainError):
    status_code, code, message = 409, "INSUFFICIENT_STOCK", "Not enough stock"


class HasPendingOrders(DomainError):
    status_code, code, message = (
        400,
        "HAS_PENDING_ORDERS",
        "The product has orders that are not finished yet",
    )
