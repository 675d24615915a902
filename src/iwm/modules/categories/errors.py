from iwm.core.errors import DomainError


class CategoryNotFound(DomainError):
    status_code, code, message = 404, "CATEGORY_NOT_FOUND", "Category not found"


class CategoryAlreadyExists(DomainError):
    status_code, code, message = 409, "CATEGORY_ALREADY_EXISTS", "A category with this slug exists"
