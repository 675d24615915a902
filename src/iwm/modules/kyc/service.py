"""KYC verifications: submission (documents into the storage backend), the review queue
and the admin's decisions. Never commits: the caller's transaction does.

Every decision locks the verification row (FOR UPDATE) so that two admins deciding at
once cannot both succeed; the second one gets NOT_REVIEWABLE.
"""

import asyncio
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import ValidationFailed
from iwm.core.listing import Listing, Sort, SortOrder, equals, one_of
from iwm.core.principal import Principal
from iwm.core.storage import PhotoStorage
from iwm.modules.audit.service import AuditService
from iwm.modules.kyc import schemas as s
from iwm.modules.kyc.documents import check_document, sniff
from iwm.modules.kyc.errors import (
    KycAlreadyApproved,
    KycAlreadySubmitted,
    KycNotFound,
    NotReviewable,
    ResubmissionNotAllowed,
)
from iwm.modules.kyc.models import (
    IDENTITY_FILES,
    REVIEWABLE,
    DocumentKind,
    DocumentStatus,
    KycDocument,
    KycHistory,
    KycLevel,
    KycPriority,
    KycStatus,
    KycVerification,
)
from iwm.modules.users.models import User
from iwm.modules.users.service import UserService

ENTITY = "kyc"
THUMBNAIL_SIZE = (320, 320)
PROCESSING_WINDOW = timedelta(days=30)
# Sorting by priority "desc" lists HIGH first.
_PRIORITY_WEIGHT = {KycPriority.HIGH: 3, KycPriority.NORMAL: 2, KycPriority.LOW: 1}
LEVEL_RANK = {KycLevel.BASIC: 1, KycLevel.STANDARD: 2, KycLevel.ENHANCED: 3}


def requested(documents: Sequence[KycDocument]) -> list[str]:
    """The kinds whose latest file the review refused: the ones to upload again."""
    latest: dict[str, KycDocument] = {}
    for doc in documents:  # in upload order: a later file of a kind replaces the earlier
        latest[doc.type] = doc
    return sorted(k for k, d in latest.items() if d.status == DocumentStatus.REJECTED)


async def kyc_approved(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether the member holds an APPROVED verification that has not expired."""
    found = await session.scalar(
        select(KycVerification.id)
        .where(
            KycVerification.user_id == user_id,
            KycVerification.status == KycStatus.APPROVED,
            KycVerification.expires_at.is_(None) | (KycVerification.expires_at > clock.now()),
        )
        .limit(1)
    )
    return found is not None


@dataclass(frozen=True, slots=True)
class QueueFilters:
    status: s.QueueStatus | None = None
    priority: KycPriority | None = None
    sort_by: s.QueueSortField = s.QueueSortField.SUBMITTED_AT
    sort_order: SortOrder | None = None


def _thumbnail(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img.thumbnail(THUMBNAIL_SIZE)
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()


# The review queue: verifications with their users; the newest-first tie-break is the id.
QUEUE = Listing(
    rows=select(KycVerification, User).join(User, User.id == KycVerification.user_id),
    key=KycVerification.id,
    base=KycVerification,
    filters=[
        one_of("statuses", KycVerification.status),
        equals("priority", KycVerification.priority),
    ],
    sorts={
        "priority": Sort(
            case(
                {p.value: w for p, w in _PRIORITY_WEIGHT.items()},
                value=KycVerification.priority,
                else_=0,
            ),
            then=(KycVerification.submitted_at.asc(),),
        ),
        "submittedAt": KycVerification.submitted_at,
    },
    default_sort="submittedAt",
    entities=True,
    key_order=SortOrder.ASC,
)


class KycService:
    def __init__(self, session: AsyncSession, settings: Settings, storage: PhotoStorage) -> None:
        self._db = session
        self._settings = settings
        self._storage = storage
        self._audit = AuditService(session)
        self._users = UserService(session)

    # -- submission ----------------------------------------------------------------------

    async def submit(
        self,
        user_id: uuid.UUID,
        info: s.PersonalInfo,
        documents: list[s.DocumentUpload],
        level: KycLevel = KycLevel.STANDARD,
        priority: KycPriority = KycPriority.NORMAL,
    ) -> KycVerification:
        """A member's submission: a new verification in SUBMITTED with one document per
        file given. Raises VALIDATION_ERROR (a file refused, a required one missing),
        KYC_ALREADY_SUBMITTED (one awaits review), KYC_ALREADY_APPROVED (an unexpired
        approval at this level or above), KYC_RESUBMISSION_NOT_ALLOWED. Locks the user row,
        so that two submissions at once cannot both pass these checks. Files are stored
        first: a failed transaction can leave unreferenced files behind, never a row
        pointing at a missing file."""
        user = await self._users.get(user_id)
        checked = [check_document(d.data, d.type, self._settings) for d in documents]
        self._require_files(info, level, documents)
        await self._db.execute(select(User.id).where(User.id == user_id).with_for_update())
        await self._check_may_submit(user_id, level)
        now = clock.now()
        verification = KycVerification(
            id=uuid.uuid4(),
            user_id=user.id,
            status=KycStatus.SUBMITTED,
            level=level,
            priority=priority,
            first_name=info.first_name,
            last_name=info.last_name,
            middle_name=info.middle_name,
            date_of_birth=info.date_of_birth,
            nationality=info.nationality.upper(),
            document_type=info.document_type,
            document_number=info.document_number,
            document_issue_date=info.document_issue_date,
            document_expiry_date=info.document_expiry_date,
            country=info.address.country.upper(),
            region=info.address.region,
            city=info.address.city,
            street=info.address.street,
            building=info.address.building,
            apartment=info.address.apartment,
            postal_code=info.address.postal_code,
            submitted_at=now,
        )
        self._db.add(verification)
        await self._db.flush()
        for position, (upload, kind) in enumerate(zip(documents, checked, strict=True)):
            self._db.add(await self.store(verification.id, position, upload, kind.ext, now))
        self._db.add(KycHistory(verification_id=verification.id, action="SUBMITTED"))
        user.kyc_status, user.kyc_level = KycStatus.SUBMITTED, level
        await self._db.flush()
        return verification

    @staticmethod
    def _require_files(
        info: s.PersonalInfo, level: KycLevel, documents: list[s.DocumentUpload]
    ) -> None:
        """The identity document's files and a selfie always; proof of address for the
        ENHANCED level. Each file kind at most once."""
        given = [d.type for d in documents]
        errors: dict[str, list[str]] = {}
        for kind in {k for k in given if given.count(k) > 1}:
            errors[kind] = ["given more than once"]
        needed = [*IDENTITY_FILES[info.document_type], DocumentKind.SELFIE]
        if level is KycLevel.ENHANCED:
            needed.append(DocumentKind.PROOF_OF_ADDRESS)
        for kind in needed:
            if kind not in given:
                errors[kind] = [f"required for a {info.document_type} at level {level}"]
        if errors:
            raise ValidationFailed("Documents are missing or repeated", errors)

    async def _check_may_submit(self, user_id: uuid.UUID, level: KycLevel) -> None:
        latest = await self.latest(user_id)
        if latest is None:
            return
        if latest.status in REVIEWABLE:
            raise KycAlreadySubmitted(details={"status": [latest.status]})
        if latest.status == KycStatus.APPROVED:
            current = (latest.expires_at is None) or latest.expires_at > clock.now()
            if current and LEVEL_RANK[KycLevel(latest.level)] >= LEVEL_RANK[level]:
                raise KycAlreadyApproved(details={"level": [latest.level]})
        if latest.status == KycStatus.REJECTED and not latest.can_resubmit:
            raise ResubmissionNotAllowed()

    async def latest(self, user_id: uuid.UUID) -> KycVerification | None:
        """The member's latest verification (the one their KYC state is)."""
        return await self._db.scalar(
            select(KycVerification)
            .where(KycVerification.user_id == user_id)
            .order_by(KycVerification.submitted_at.desc(), KycVerification.id)
            .limit(1)
        )

    async def store(
        self,
        verification_id: uuid.UUID,
        position: int,
        upload: s.DocumentUpload,
        ext: str,
        now: datetime,
    ) -> KycDocument:
        """Puts the file (and a JPEG preview of an image) into the storage backend; the
        document row for it, not yet added."""
        checked = sniff(upload.data, upload.type)
        doc_id = uuid.uuid4()
        key = f"kyc/{verification_id}/{doc_id}.{ext}"
        await self._storage.put(key, upload.data, checked.content_type)
        thumb_key = None
        if checked.is_image:
            thumb_key = f"kyc/{verification_id}/{doc_id}-thumb.jpg"
            thumb = await asyncio.to_thread(_thumbnail, upload.data)
            await self._storage.put(thumb_key, thumb, "image/jpeg")
        return KycDocument(
            id=doc_id,
            verification_id=verification_id,
            type=upload.type,
            position=position,
            file_name=upload.file_name[:255],
            content_type=checked.content_type,
            size_bytes=len(upload.data),
            storage_key=key,
            thumbnail_key=thumb_key,
            status=DocumentStatus.PENDING,
            ocr_data=upload.ocr_data,
            uploaded_at=now,
        )

    # -- reads ---------------------------------------------------------------------------

    async def queue(
        self, filters: QueueFilters, page: int, page_size: int
    ) -> tuple[s.KycQueue, int]:
        statuses = [filters.status.value] if filters.status else [q.value for q in s.QueueStatus]
        if filters.sort_by is s.QueueSortField.PRIORITY:
            sort_by, order = "priority", filters.sort_order or SortOrder.DESC
        else:
            sort_by, order = "submittedAt", filters.sort_order or SortOrder.ASC
        found = await QUEUE.page(
            self._db,
            {"statuses": statuses, "priority": filters.priority},
            page=page,
            page_size=page_size,
            sort_by=sort_by,
            sort_order=order,
        )
        total = found.total
        rows = [(r.KycVerification, r.User) for r in found.rows]
        ids = [v.id for v, _ in rows]
        doc_counts: dict[uuid.UUID, int] = {}
        if ids:
            counted = await self._db.execute(
                select(KycDocument.verification_id, func.count())
                .where(KycDocument.verification_id.in_(ids))
                .group_by(KycDocument.verification_id)
            )
            doc_counts = {vid: int(n) for vid, n in counted}
        names = await self.names({v.assigned_to for v, _ in rows})
        now = clock.now()
        items = [
            s.QueueItem(
                id=v.id,
                user=s.QueueUser(id=u.id, email=u.email, name=u.full_name),
                status=v.status,
                level=v.level,
                priority=v.priority,
                submitted_at=v.submitted_at,
                assigned_to=names.get(v.assigned_to) if v.assigned_to else None,
                documents_count=doc_counts.get(v.id, 0),
                waiting_time=max(0, int((now - v.submitted_at).total_seconds() // 3600)),
            )
            for v, u in rows
        ]
        return s.KycQueue(submissions=items, stats=await self._stats(now)), int(total)

    async def _stats(self, now: datetime) -> s.QueueStats:
        counts = dict(
            (
                await self._db.execute(
                    select(KycVerification.status, func.count())
                    .where(KycVerification.status.in_([q.value for q in s.QueueStatus]))
                    .group_by(KycVerification.status)
                )
            ).all()
        )
        if self._db.get_bind().dialect.name == "postgresql":
            seconds: ColumnElement[Any] = func.extract(
                "epoch", KycVerification.reviewed_at - KycVerification.submitted_at
            )
        else:
            seconds = (
                func.julianday(KycVerification.reviewed_at)
                - func.julianday(KycVerification.submitted_at)
            ) * 86400
        average = (
            await self._db.execute(
                select(func.avg(seconds)).where(
                    KycVerification.reviewed_at >= now - PROCESSING_WINDOW
                )
            )
        ).scalar_one()
        return s.QueueStats(
            pending=int(counts.get(KycStatus.SUBMITTED, 0)),
            under_review=int(counts.get(KycStatus.UNDER_REVIEW, 0)),
            needs_info=int(counts.get(KycStatus.NEEDS_INFO, 0)),
            average_processing_time=round(float(average) / 3600, 1) if average else 0.0,
        )

    async def names(self, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return {}
        rows = await self._db.execute(select(User).where(User.id.in_(wanted)))
        return {u.id: u.full_name for u in rows.scalars()}

    async def get(self, kyc_id: uuid.UUID, *, lock: bool = False) -> KycVerification:
        stmt = select(KycVerification).where(KycVerification.id == kyc_id)
        if lock:
            stmt = stmt.with_for_update()
        verification = (await self._db.execute(stmt)).scalar_one_or_none()
        if verification is None:
            raise KycNotFound()
        return verification

    async def documents(self, kyc_id: uuid.UUID) -> list[KycDocument]:
        rows = await self._db.execute(
            select(KycDocument)
            .where(KycDocument.verification_id == kyc_id)
            .order_by(KycDocument.uploaded_at, KycDocument.position)
        )
        return list(rows.scalars())

    async def detail(self, kyc_id: uuid.UUID) -> s.KycDetail:
        v = await self.get(kyc_id)
        user = await self._users.get(v.user_id)
        docs = await self.documents(v.id)
        history = list(
            (
                await self._db.execute(
                    select(KycHistory)
                    .where(KycHistory.verification_id == v.id)
                    .order_by(KycHistory.created_at, KycHistory.id)
                )
            ).scalars()
        )
        names = await self.names({v.reviewed_by} | {h.performed_by for h in history})
        documents = []
        for d in docs:
            file_url = await self._storage.url(d.storage_key)
            thumb = await self._storage.url(d.thumbnail_key) if d.thumbnail_key else file_url
            documents.append(
                s.DetailDocument(
                    id=d.id,
                    type=d.type,
                    file_name=d.file_name,
                    file_url=file_url,
                    thumbnail_url=thumb,
                    status=d.status,
                    ocr_data=d.ocr_data,
                    uploaded_at=d.uploaded_at,
                )
            )
        return s.KycDetail(
            id=v.id,
            user=s.DetailUser(
                id=user.id,
                email=user.email,
                name=user.full_name,
                phone=user.phone,
                created_at=user.created_at,
            ),
            status=v.status,
            level=v.level,
            personal_info=s.DetailPersonalInfo.of(v),
            documents=documents,
            history=[
                s.HistoryEntry(
                    action=h.action,
                    performed_by=names.get(h.performed_by) if h.performed_by else None,
                    note=h.note,
                    timestamp=h.created_at,
                )
                for h in history
            ],
            submitted_at=v.submitted_at,
            reviewed_at=v.reviewed_at,
            reviewed_by=names.get(v.reviewed_by) if v.reviewed_by else None,
            rejection_reason=v.rejection_reason,
        )

    # -- decisions -----------------------------------------------------------------------

    async def _reviewable(self, kyc_id: uuid.UUID) -> KycVerification:
        v = await self.get(kyc_id, lock=True)
        if v.status not in REVIEWABLE:
            raise NotReviewable()
        return v

    async def _admin_name(self, admin: Principal) -> str:
        return (await self.names({admin.user_id})).get(admin.user_id, admin.email)

    async def sync_user(self, v: KycVerification) -> None:
        """The user's KYC state is their latest verification's."""
        latest = (
            await self._db.execute(
                select(KycVerification.id)
                .where(KycVerification.user_id == v.user_id)
                .order_by(KycVerification.submitted_at.desc(), KycVerification.id)
                .limit(1)
            )
        ).scalar_one()
        if latest == v.id:
            user = await self._users.get(v.user_id)
            user.kyc_status, user.kyc_level = v.status, v.level

    async def start_review(self, admin: Principal, kyc_id: uuid.UUID) -> KycVerification:
        """Takes a submission into review, assigned to `admin`."""
        v = await self._reviewable(kyc_id)
        previous = {"status": v.status, "assignedTo": str(v.assigned_to or "") or None}
        v.status, v.assigned_to = KycStatus.UNDER_REVIEW, admin.user_id
        self._db.add(
            KycHistory(verification_id=v.id, action="REVIEW_STARTED", performed_by=admin.user_id)
        )
        await self.sync_user(v)
        await self._db.flush()
        self._audit.record(
            admin,
            "KYC_REVIEW_STARTED",
            ENTITY,
            v.id,
            previous=previous,
            new={"status": v.status, "assignedTo": str(admin.user_id)},
        )
        return v

    async def request_info(
        self,
        admin: Principal,
        kyc_id: uuid.UUID,
        note: str,
        documents: Sequence[s.RejectedDocument] = (),
    ) -> KycVerification:
        """Asks the member for more information (NEEDS_INFO); the named documents are
        marked REJECTED with their reason, and only those are uploaded again."""
        v = await self._reviewable(kyc_id)
        await self._mark_rejected(v, documents)
        previous = v.status
        v.status = KycStatus.NEEDS_INFO
        self._db.add(
            KycHistory(
                verification_id=v.id, action="INFO_REQUESTED", performed_by=admin.user_id, note=note
            )
        )
        await self.sync_user(v)
        await self._db.flush()
        self._audit.record(
            admin,
            "KYC_INFO_REQUESTED",
            ENTITY,
            v.id,
            previous={"status": previous},
            new={
                "status": v.status,
                "note": note,
                "documents": [str(d.document_id) for d in documents],
            },
        )
        return v

    async def _mark_rejected(self, v: KycVerification, items: Sequence[s.RejectedDocument]) -> None:
        """VALIDATION_ERROR for a document of another verification."""
        docs = {d.id: d for d in await self.documents(v.id)}
        unknown = [str(r.document_id) for r in items if r.document_id not in docs]
        if unknown:
            raise ValidationFailed(
                "Unknown document in rejectedDocuments",
                {
                    "rejectedDocuments": [
                        f"not a document of this verification: {u}" for u in unknown
                    ]
                },
            )
        for item in items:
            docs[item.document_id].status = DocumentStatus.REJECTED
            docs[item.document_id].rejection_reason = item.reason

    async def approve(
        self, admin: Principal, kyc_id: uuid.UUID, body: s.ApproveRequest
    ) -> s.Approved:
        """Raises KYC_NOT_FOUND, NOT_REVIEWABLE, VALIDATION_ERROR (expiry in the past).
        Valid for `kyc_validity_days` unless `expiresAt` says otherwise."""
        v = await self._reviewable(kyc_id)
        now = clock.now()
        expires_at = body.expires_at or now + timedelta(days=self._settings.kyc_validity_days)
        if expires_at <= now:
            raise ValidationFailed(
                "expiresAt must be in the future", {"expiresAt": ["must be in the future"]}
            )
        previous = {"status": v.status, "level": v.level}
        v.status, v.level = KycStatus.APPROVED, body.level
        v.reviewed_at, v.reviewed_by, v.expires_at = now, admin.user_id, expires_at
        v.rejection_reason = None
        for doc in await self.documents(v.id):
            if doc.status == DocumentStatus.PENDING:
                doc.status = DocumentStatus.VERIFIED
        self._db.add(
            KycHistory(
                verification_id=v.id, action="APPROVED", performed_by=admin.user_id, note=body.note
            )
        )
        await self.sync_user(v)
        await self._db.flush()
        self._audit.record(
            admin,
            "KYC_APPROVED",
            ENTITY,
            v.id,
            previous=previous,
            new={
                "status": v.status,
                "level": v.level,
                "expiresAt": clock.iso(expires_at),
                "note": body.note,
            },
        )
        return s.Approved(
            id=v.id,
            user_id=v.user_id,
            status=v.status,
            level=v.level,
            approved_at=now,
            approved_by=await self._admin_name(admin),
            expires_at=expires_at,
        )

    async def reject(
        self, admin: Principal, kyc_id: uuid.UUID, body: s.RejectRequest
    ) -> s.Rejected:
        """Raises KYC_NOT_FOUND, NOT_REVIEWABLE, VALIDATION_ERROR (a document of another
        verification). Named documents are marked REJECTED with their reason."""
        v = await self._reviewable(kyc_id)
        await self._mark_rejected(v, body.rejected_documents)
        now = clock.now()
        previous = {"status": v.status}
        v.status = KycStatus.REJECTED
        v.reviewed_at, v.reviewed_by = now, admin.user_id
        v.rejection_reason, v.can_resubmit = body.reason, body.allow_resubmission
        self._db.add(
            KycHistory(
                verification_id=v.id,
                action="REJECTED",
                performed_by=admin.user_id,
                note=body.reason,
            )
        )
        await self.sync_user(v)
        await self._db.flush()
        self._audit.record(
            admin,
            "KYC_REJECTED",
            ENTITY,
            v.id,
            previous=previous,
            new={
                "status": v.status,
                "reason": body.reason,
                "canResubmit": body.allow_resubmission,
                "rejectedDocuments": [str(r.document_id) for r in body.rejected_documents],
            },
        )
        return s.Rejected(
            id=v.id,
            user_id=v.user_id,
            status=v.status,
            reason=body.reason,
            rejected_at=now,
            rejected_by=await self._admin_name(admin),
            can_resubmit=body.allow_resubmission,
        )
