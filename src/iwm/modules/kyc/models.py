"""KYC verifications: the submitted personal data, its documents (files in the storage
backend, metadata here) and the history of what happened to it."""

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin


class KycStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    NEEDS_INFO = "NEEDS_INFO"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


REVIEWABLE = frozenset({KycStatus.SUBMITTED, KycStatus.UNDER_REVIEW, KycStatus.NEEDS_INFO})


class KycLevel(enum.StrEnum):
    BASIC = "BASIC"
    STANDARD = "STANDARD"
    ENHANCED = "ENHANCED"


class KycPriority(enum.StrEnum):
    HIGH = "HIGH"
    NORMAL = "NORMAL"
    LOW = "LOW"


class DocumentType(enum.StrEnum):
    PASSPORT = "PASSPORT"
    ID_CARD = "ID_CARD"
    DRIVER_LICENSE = "DRIVER_LICENSE"
    SELFIE = "SELFIE"
    PROOF_OF_ADDRESS = "PROOF_OF_ADDRESS"


class DocumentKind(enum.StrEnum):
    """What a submitted file shows: a member's submission has one file part per kind."""

    PASSPORT = "PASSPORT"
    ID_CARD_FRONT = "ID_CARD_FRONT"
    ID_CARD_BACK = "ID_CARD_BACK"
    SELFIE = "SELFIE"
    PROOF_OF_ADDRESS = "PROOF_OF_ADDRESS"


# The files an identity document (personalInfo.documentType) needs: a passport's photo
# page, both sides of a card.
IDENTITY_FILES: dict[str, tuple[DocumentKind, ...]] = {
    DocumentType.PASSPORT: (DocumentKind.PASSPORT,),
    DocumentType.ID_CARD: (DocumentKind.ID_CARD_FRONT, DocumentKind.ID_CARD_BACK),
    DocumentType.DRIVER_LICENSE: (DocumentKind.ID_CARD_FRONT, DocumentKind.ID_CARD_BACK),
}


class DocumentStatus(enum.StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"


class KycVerification(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "kyc_verifications"
    __table_args__ = (
        Index("ix_kyc_verifications_status_submitted", "status", "submitted_at"),
        Index("ix_kyc_verifications_user_submitted", "user_id", "submitted_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=KycStatus.SUBMITTED)
    level: Mapped[str] = mapped_column(String(16), default=KycLevel.STANDARD)
    priority: Mapped[str] = mapped_column(String(8), default=KycPriority.NORMAL)

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    nationality: Mapped[str] = mapped_column(String(2))
    document_type: Mapped[str] = mapped_column(String(32))
    document_number: Mapped[str] = mapped_column(String(64))
    document_issue_date: Mapped[date] = mapped_column(Date)
    document_expiry_date: Mapped[date] = mapped_column(Date)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(100), default="")
    city: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    building: Mapped[str] = mapped_column(String(32))
    apartment: Mapped[str | None] = mapped_column(String(32))
    postal_code: Mapped[str] = mapped_column(String(16))

    submitted_at: Mapped[datetime] = mapped_column(default=clock.now)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(1000))
    can_resubmit: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class KycDocument(IdMixin, Base):
    """A document's metadata; the file itself lives in the storage backend under
    `storage_key` (and a JPEG preview under `thumbnail_key` when it is an image)."""

    __tablename__ = "kyc_documents"

    verification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kyc_verifications.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)  # order within the submission
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(300))
    thumbnail_key: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=DocumentStatus.PENDING)
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    ocr_data: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)


class KycHistory(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "kyc_history"

    verification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kyc_verifications.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    performed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)
