from iwm.core.errors import NotFound


class ShopNotFound(NotFound):
    code, message = "SHOP_NOT_FOUND", "Shop not found"
