from iwm.core.errors import DomainError, NotFound


class PaymentNotFound(NotFound):
    code, message = "PAYMENT_NOT_FOUND", "Payment not found"


class InvalidWebhook(DomainError):
    """Refused before anything is read from the body: a missing or wrong signature, a
    stale or future timestamp, or a body the provider would never send."""

    status_code, code, message = 400, "INVALID_WEBHOOK", "Webhook refused"


class ProviderUnavailable(DomainError):
    status_code, code, message = 503, "PAYMENT_PROVIDER_UNAVAILABLE", "Payment provider unavailable"
