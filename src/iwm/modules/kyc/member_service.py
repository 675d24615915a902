"""The member's side of KYC: his verification as he sees it, and the documents he uploads
again when the review asks for them. Never commits: the caller's transaction does."""

import uuid

from sqlalchemy import select

from iwm.core import clock
from iwm.core.errors import ValidationFailed
from iwm.modules.kyc import schemas as s
from iwm.modules.kyc.documents import check_document
from iwm.modules.kyc.errors import NotNeedsInfo
from iwm.modules.kyc.models import (
    KycHistory,
    KycStatus,
    KycVerification,
)
from iwm.modules.kyc.service import KycService, requested
from iwm.modules.users.models import User


class MemberKycService(KycService):
    async def reupload(
        self, user_id: uuid.UUID, uploads: list[s.DocumentUpload]
    ) -> KycVerification:
        """Replaces the documents the review asked for; the verification is SUBMITTED
        again, back in the queue. NOT_NEEDS_INFO unless the latest verification is in
        NEEDS_INFO; VALIDATION_ERROR for a file refused, one not asked for, or one asked
        for and missing (when the review named none, any non-empty set is taken)."""
        checked = [check_document(u.data, u.type, self._settings) for u in uploads]
        await self._db.execute(select(User.id).where(User.id == user_id).with_for_update())
        v = await self.latest(user_id)
        if v is None or v.status != KycStatus.NEEDS_INFO:
            raise NotNeedsInfo(details={"status": [v.status if v else "NOT_SUBMITTED"]})
        v = await self.get(v.id, lock=True)
        docs = await self.documents(v.id)
        asked = set(requested(docs))
        given = [u.type for u in uploads]
        errors: dict[str, list[str]] = {}
        if not given:
            errors["documents"] = ["upload at least one document"]
        for kind in given:
            if given.count(kind) > 1:
                errors[kind] = ["given more than once"]
            elif asked and kind not in asked:
                errors[kind] = ["not asked for by the review"]
        for missing in sorted(asked - set(given)):
            errors[missing] = ["asked for by the review"]
        if errors:
            raise ValidationFailed("Upload the documents the review asked for", errors)
        now = clock.now()
        start = max((d.position for d in docs), default=-1) + 1
        for offset, (upload, file) in enumerate(zip(uploads, checked, strict=True)):
            self._db.add(await self.store(v.id, start + offset, upload, file.ext, now))
        v.status = KycStatus.SUBMITTED
        v.submitted_at = now
        self._db.add(
            KycHistory(
                verification_id=v.id,
                action="DOCUMENTS_RESUBMITTED",
                performed_by=user_id,
                note=", ".join(sorted(given)),
            )
        )
        await self.sync_user(v)
        await self._db.flush()
        return v

    async def view(self, user_id: uuid.UUID) -> s.MemberKyc:
        """The member's own KYC; never another member's."""
        v = await self.latest(user_id)
        history = list(
            await self._db.scalars(
                select(KycHistory)
                .join(KycVerification, KycVerification.id == KycHistory.verification_id)
                .where(KycVerification.user_id == user_id)
                .order_by(KycHistory.created_at, KycHistory.id)
            )
        )
        entries = [
            s.MemberHistoryEntry(
                verification_id=h.verification_id,
                action=h.action,
                note=h.note,
                timestamp=h.created_at,
            )
            for h in history
        ]
        if v is None:
            return s.MemberKyc(
                id=None,
                status="NOT_SUBMITTED",
                level=None,
                personal_info=None,
                documents=[],
                requested_documents=[],
                history=entries,
                submitted_at=None,
                reviewed_at=None,
                expires_at=None,
                rejection_reason=None,
                can_resubmit=True,
            )
        docs = await self.documents(v.id)
        documents = [
            s.MemberDocument(
                id=d.id,
                verification_id=v.id,
                type=d.type,
                file_name=d.file_name,
                file_url=await self._storage.url(d.storage_key),
                status=d.status,
                rejection_reason=d.rejection_reason,
                uploaded_at=d.uploaded_at,
            )
            for d in docs
        ]
        return s.MemberKyc(
            id=v.id,
            status=v.status,
            level=v.level,
            personal_info=s.DetailPersonalInfo.of(v),
            documents=documents,
            requested_documents=requested(docs) if v.status == KycStatus.NEEDS_INFO else [],
            history=entries,
            submitted_at=v.submitted_at,
            reviewed_at=v.reviewed_at,
            expires_at=v.expires_at,
            rejection_reason=v.rejection_reason,
            can_resubmit=v.status != KycStatus.REJECTED or v.can_resubmit,
        )
