"""KYC views and requests of the admin API (seed 004 "Эндпоинты управления KYC")."""

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import Field, StrictBool, ValidationInfo, field_validator

from iwm.core import clock
from iwm.core.schemas import CamelModel, PlausibleDate, StrictBody, UtcDateTime
from iwm.modules.kyc.models import (
    DocumentKind,
    DocumentType,
    KycLevel,
    KycPriority,
    KycVerification,
)

ADULT_YEARS = 18


class QueueStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    NEEDS_INFO = "NEEDS_INFO"


class QueueSortField(enum.StrEnum):
    SUBMITTED_AT = "submittedAt"
    PRIORITY = "priority"


# -- submission (the member's `personalInfo`, seed 004's KYC shape) ---------------------


class KycAddress(StrictBody):
    country: str = Field(min_length=2, max_length=2)
    region: str = Field(default="", max_length=100)
    city: str = Field(min_length=1, max_length=100)
    street: str = Field(min_length=1, max_length=200)
    building: str = Field(min_length=1, max_length=32)
    apartment: str | None = Field(default=None, max_length=32)
    postal_code: str = Field(min_length=1, max_length=16)


class PersonalInfo(StrictBody):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    date_of_birth: PlausibleDate
    nationality: str = Field(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$")
    document_number: str = Field(min_length=1, max_length=64)
    document_type: DocumentType
    document_issue_date: PlausibleDate
    document_expiry_date: PlausibleDate
    address: KycAddress

    @field_validator("date_of_birth")
    @classmethod
    def _adult(cls, value: date) -> date:
        today = clock.now().date()
        if (today.year - value.year) - ((today.month, today.day) < (value.month, value.day)) < (
            ADULT_YEARS
        ):
            raise ValueError(f"the member must be at least {ADULT_YEARS} years old")
        return value

    @field_validator("document_issue_date")
    @classmethod
    def _issued(cls, value: date, info: ValidationInfo) -> date:
        if value > clock.now().date():
            raise ValueError("must not be in the future")
        born = info.data.get("date_of_birth")
        if born is not None and value < born:
            raise ValueError("must not be before the date of birth")
        return value

    @field_validator("document_expiry_date")
    @classmethod
    def _valid(cls, value: date) -> date:
        if value <= clock.now().date():
            raise ValueError("the document has expired")
        return value


@dataclass(frozen=True, slots=True)
class DocumentUpload:
    type: DocumentKind
    file_name: str
    data: bytes
    ocr_data: dict[str, str] | None = None


# -- the member's view -----------------------------------------------------------------


class MemberDocument(CamelModel):
    id: uuid.UUID
    verification_id: uuid.UUID
    type: str
    file_name: str
    file_url: str
    status: str
    rejection_reason: str | None
    uploaded_at: UtcDateTime


class MemberHistoryEntry(CamelModel):
    verification_id: uuid.UUID
    action: str
    note: str | None
    timestamp: UtcDateTime


class MemberKyc(CamelModel):
    """The member's KYC: the latest verification (status NOT_SUBMITTED and nulls when there
    is none), its documents, and the history of every verification of the member."""

    id: uuid.UUID | None
    status: str
    level: str | None
    personal_info: "DetailPersonalInfo | None"
    documents: list[MemberDocument]
    # On NEEDS_INFO: the document types the review asked for again (empty: any).
    requested_documents: list[str]
    history: list[MemberHistoryEntry]
    submitted_at: UtcDateTime | None
    reviewed_at: UtcDateTime | None
    expires_at: UtcDateTime | None
    rejection_reason: str | None
    can_resubmit: bool


# -- queue ---------------------------------------------------------------------------


class QueueUser(CamelModel):
    id: uuid.UUID
    email: str
    name: str


class QueueItem(CamelModel):
    id: uuid.UUID
    user: QueueUser
    status: str
    level: str
    priority: str
    submitted_at: UtcDateTime
    assigned_to: str | None
    documents_count: int
    waiting_time: int  # whole hours since submission


class QueueStats(CamelModel):
    pending: int
    under_review: int
    needs_info: int
    average_processing_time: float  # hours, one decimal


class KycQueue(CamelModel):
    submissions: list[QueueItem]
    stats: QueueStats


# -- detail --------------------------------------------------------------------------


class DetailUser(CamelModel):
    id: uuid.UUID
    email: str
    name: str
    phone: str | None
    created_at: UtcDateTime


class DetailPersonalInfo(CamelModel):
    first_name: str
    last_name: str
    middle_name: str | None
    date_of_birth: date
    nationality: str
    document_number: str
    document_type: str
    document_issue_date: date
    document_expiry_date: date
    address: KycAddress

    @classmethod
    def of(cls, v: KycVerification) -> "DetailPersonalInfo":
        """The submission's personal data, as both the admin and the member read it."""
        return cls(
            first_name=v.first_name,
            last_name=v.last_name,
            middle_name=v.middle_name,
            date_of_birth=v.date_of_birth,
            nationality=v.nationality,
            document_number=v.document_number,
            document_type=v.document_type,
            document_issue_date=v.document_issue_date,
            document_expiry_date=v.document_expiry_date,
            address=KycAddress(
                country=v.country,
                region=v.region,
                city=v.city,
                street=v.street,
                building=v.building,
                apartment=v.apartment,
                postal_code=v.postal_code,
            ),
        )


class DetailDocument(CamelModel):
    id: uuid.UUID
    type: str
    file_name: str
    file_url: str
    thumbnail_url: str
    status: str
    ocr_data: dict[str, Any] | None
    uploaded_at: UtcDateTime


class HistoryEntry(CamelModel):
    action: str
    performed_by: str | None
    note: str | None
    timestamp: UtcDateTime


class KycDetail(CamelModel):
    id: uuid.UUID
    user: DetailUser
    status: str
    level: str
    personal_info: DetailPersonalInfo
    documents: list[DetailDocument]
    history: list[HistoryEntry]
    submitted_at: UtcDateTime
    reviewed_at: UtcDateTime | None
    reviewed_by: str | None
    rejection_reason: str | None


# -- review --------------------------------------------------------------------------


class ApproveRequest(StrictBody):
    level: KycLevel
    note: str | None = Field(default=None, max_length=2000)
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone, e.g. 2025-01-15T21:30:00Z")
        return value


class Approved(CamelModel):
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    level: str
    approved_at: UtcDateTime
    approved_by: str
    expires_at: UtcDateTime


class RejectedDocument(StrictBody):
    document_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=500)


class RejectRequest(StrictBody):
    reason: str = Field(min_length=1, max_length=1000)
    rejected_documents: list[RejectedDocument] = Field(default_factory=list, max_length=50)
    allow_resubmission: StrictBool = True

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class RequestInfoRequest(StrictBody):
    note: str = Field(min_length=1, max_length=2000)
    documents: list["RejectedDocument"] = Field(default_factory=list, max_length=50)


class InfoRequested(CamelModel):
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    note: str
    requested_documents: list[str]
    requested_at: UtcDateTime
    requested_by: str


class Rejected(CamelModel):
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    reason: str
    rejected_at: UtcDateTime
    rejected_by: str
    can_resubmit: bool


PRIORITY_RANK = {KycPriority.HIGH: 0, KycPriority.NORMAL: 1, KycPriority.LOW: 2}
