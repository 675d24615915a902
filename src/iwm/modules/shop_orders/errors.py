from iwm.core.errors import DomainError


class ShopOrderNotFound(DomainError):
    status_code, code, message = 404, "ORDER_NOT_FOUND", "Order not found"


class InvalidTransition(DomainError):
    status_code, code, message = 400, "VALIDATION_ERROR", "Invalid order status transition"


class ProductNotAvailable(DomainError):
    status_code, code, message = 400, "PRODUCT_NOT_AVAILABLE", "Product is not available"


class OutOfStock(DomainError):
    """Raised with a message naming the product and `details.productId`."""

    status_code, code, message = 409, "OUT_OF_STOCK", "Not enough stock"


class NotCancellable(DomainError):
    status_code, code, message = (
        400,
        "NOT_CANCELLABLE",
        "The order has shipped or is already cancelled",
    )


class HasPendingOrders(DomainError):
    status_code, code, message = (
        400,
        "HAS_PENDING_ORDERS",
        "The product has orders that are not finished yet",
    )
