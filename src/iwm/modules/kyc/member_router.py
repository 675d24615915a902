"""A member's KYC: /api/v1/me/kyc (SPEC §8)."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile, status
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import (
    RateLimited,
    Unauthorized,
    ValidationFailed,
    error_responses,
    validation_details,
)
from iwm.core.schemas import Envelope, ok
from iwm.modules.kyc.errors import (
    DocumentTooLarge,
    InvalidDocument,
    KycAlreadyApproved,
    KycAlreadySubmitted,
    NotNeedsInfo,
    ResubmissionNotAllowed,
)
from iwm.modules.kyc.member_service import MemberKycService
from iwm.modules.kyc.models import DocumentKind, KycLevel
from iwm.modules.kyc.schemas import DocumentUpload, MemberKyc, PersonalInfo
from iwm.modules.users.deps import ActiveMember, CurrentUser
from iwm.modules.users.errors import EmailNotVerified

router = APIRouter(
    prefix="/api/v1/me/kyc",
    tags=["member: kyc"],
    responses=error_responses(Unauthorized, RateLimited),
)
_FILE_FIELDS = {kind.value for kind in DocumentKind}


async def member_kyc(session: SessionDep, resources: ResourcesDep) -> MemberKycService:
    return MemberKycService(session, resources.settings, resources.storage)


MemberKycDep = Annotated[MemberKycService, Depends(member_kyc)]


async def _uploads(request: Request, allowed: set[str]) -> list[DocumentUpload]:
    """The file parts of the form, one per document kind; any other field is refused."""
    form = await request.form()
    unknown = sorted(set(form.keys()) - allowed)
    if unknown:
        raise ValidationFailed("Unknown form fields", {name: ["unknown field"] for name in unknown})
    uploads = []
    for kind in DocumentKind:
        parts = form.getlist(kind.value)
        if len(parts) > 1:
            raise ValidationFailed(details={kind.value: ["one file per document type"]})
        if not parts:
            continue
        part = parts[0]
        if isinstance(part, str):
            raise InvalidDocument(details={kind.value: ["must be a file"]})
        data = await part.read(request.app.state.resources.settings.kyc_document_max_bytes + 1)
        uploads.append(DocumentUpload(type=kind, file_name=part.filename or kind.value, data=data))
    return uploads


def _personal_info(raw: str) -> PersonalInfo:
    try:
        return PersonalInfo.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed(
            "Invalid personalInfo",
            validation_details(
                [
                    {
                        **e,
                        "loc": (
                            "form",
                            "personalInfo",
                            *(to_camel(p) if isinstance(p, str) else p for p in e["loc"]),
                        ),
                    }
                    for e in exc.errors()
                ]
            ),
        ) from None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        ValidationFailed,
        DocumentTooLarge,
        EmailNotVerified,
        KycAlreadySubmitted,
        KycAlreadyApproved,
        ResubmissionNotAllowed,
    ),
)
async def submit_kyc(
    request: Request,
    member: ActiveMember,
    kyc: MemberKycDep,
    level: Annotated[KycLevel, Form()],
    personal_info: Annotated[
        str, Form(alias="personalInfo", description="JSON: seed 004's KYC personalInfo")
    ],
    passport: Annotated[UploadFile | None, File(alias="PASSPORT")] = None,
    id_card_front: Annotated[UploadFile | None, File(alias="ID_CARD_FRONT")] = None,
    id_card_back: Annotated[UploadFile | None, File(alias="ID_CARD_BACK")] = None,
    selfie: Annotated[UploadFile | None, File(alias="SELFIE")] = None,
    proof_of_address: Annotated[UploadFile | None, File(alias="PROOF_OF_ADDRESS")] = None,
) -> Envelope[MemberKyc]:
    """Submit personal data and documents (JPEG, PNG or PDF) for verification."""
    uploads = await _uploads(request, _FILE_FIELDS | {"level", "personalInfo"})
    info = _personal_info(personal_info)
    await kyc.submit(member.user_id, info, uploads, level=level)
    return ok(await kyc.view(member.user_id))


@router.get("")
async def my_kyc(member: CurrentUser, kyc: MemberKycDep) -> Envelope[MemberKyc]:
    """My verification: status, documents, what the review asks for, and the history."""
    return ok(await kyc.view(member.user_id))


@router.post(
    "/documents",
    responses=error_responses(ValidationFailed, DocumentTooLarge, EmailNotVerified, NotNeedsInfo),
)
async def reupload_documents(
    request: Request,
    member: ActiveMember,
    kyc: MemberKycDep,
    passport: Annotated[UploadFile | None, File(alias="PASSPORT")] = None,
    id_card_front: Annotated[UploadFile | None, File(alias="ID_CARD_FRONT")] = None,
    id_card_back: Annotated[UploadFile | None, File(alias="ID_CARD_BACK")] = None,
    selfie: Annotated[UploadFile | None, File(alias="SELFIE")] = None,
    proof_of_address: Annotated[UploadFile | None, File(alias="PROOF_OF_ADDRESS")] = None,
) -> Envelope[MemberKyc]:
    """Upload again the documents the review asked for (NEEDS_INFO)."""
    await kyc.reupload(member.user_id, await _uploads(request, _FILE_FIELDS))
    return ok(await kyc.view(member.user_id))
