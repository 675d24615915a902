from iwm.core.errors import DomainError


class ProductNotFound(DomainError):
    status_code, code, message = 404, "PRODUCT_NOT_FOUND", "Product not found"


class SkuAlreadyExists(DomainError):
    status_code, code, message = 409, "SKU_ALREADY_EXISTS", "SKU is already in use"
