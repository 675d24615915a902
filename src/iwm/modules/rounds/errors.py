from iwm.core.errors import DomainError, NotFound


class SessionNotFound(NotFound):
    code, message = "SESSION_NOT_FOUND", "Payment session not found"


class SessionNotPaid(DomainError):
    status_code, code, message = 409, "SESSION_NOT_PAID", "The session is not paid yet"


class SessionAlreadyStarted(DomainError):
    status_code, code, message = 409, "SESSION_ALREADY_STARTED", "The round was already started"


class SessionExpired(DomainError):
    status_code, code, message = 409, "SESSION_EXPIRED", "The session expired"


class PriceNotSet(DomainError):
    status_code, code, message = (
        409,
        "PRICE_NOT_SET",
        "The kiosk has no price per round: its partner sets one first",
    )


class CurrencyInUse(DomainError):
    status_code, code, message = (
        409,
        "CURRENCY_IN_USE",
        "The kiosk has taken money in its currency: the price may change, the currency may not",
    )
