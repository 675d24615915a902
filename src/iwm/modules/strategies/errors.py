from iwm.core.errors import DomainError


class StrategyNotFound(DomainError):
    status_code, code, message = 404, "STRATEGY_NOT_FOUND", "Strategy not found"


class HasActiveParticipations(DomainError):
    status_code, code, message = (
        400,
        "HAS_ACTIVE_PARTICIPATIONS",
        "Cannot close a strategy with active participations",
    )


class StrategyNotActive(DomainError):
    status_code, code, message = 400, "STRATEGY_NOT_ACTIVE", "Strategy is not open for investment"


class CapacityExceeded(DomainError):
    status_code, code, message = 409, "CAPACITY_EXCEEDED", "Strategy capacity is exhausted"


class ParticipationNotFound(DomainError):
    status_code, code, message = 404, "PARTICIPATION_NOT_FOUND", "Participation not found"


class AmountOutOfRange(DomainError):
    """Raised with the strategy's bounds in `details.amount`."""

    status_code, code, message = (
        400,
        "AMOUNT_OUT_OF_RANGE",
        "The amount is outside the strategy's minimum and maximum",
    )


class StrategyFull(DomainError):
    status_code, code, message = 409, "STRATEGY_FULL", "The strategy has no room for this amount"
