from iwm.core.errors import DomainError, NotFound


class KycNotFound(NotFound):
    code, message = "KYC_NOT_FOUND", "KYC verification not found"


class NotReviewable(DomainError):
    status_code, code, message = 400, "NOT_REVIEWABLE", "KYC verification is not awaiting review"


class InvalidDocument(DomainError):
    status_code, code, message = 400, "VALIDATION_ERROR", "Documents must be JPEG, PNG or PDF"


class DocumentTooLarge(DomainError):
    status_code, code, message = 413, "PAYLOAD_TOO_LARGE", "A document is larger than allowed"


class KycAlreadySubmitted(DomainError):
    status_code, code, message = (
        409,
        "KYC_ALREADY_SUBMITTED",
        "A verification is already awaiting review",
    )


class KycAlreadyApproved(DomainError):
    status_code, code, message = 409, "KYC_ALREADY_APPROVED", "The verification is approved"


class ResubmissionNotAllowed(DomainError):
    status_code, code, message = (
        403,
        "KYC_RESUBMISSION_NOT_ALLOWED",
        "The verification was rejected without the right to submit again",
    )


class NotNeedsInfo(DomainError):
    status_code, code, message = (
        400,
        "NOT_NEEDS_INFO",
        "Documents are re-uploaded only when the review asks for them (NEEDS_INFO)",
    )
