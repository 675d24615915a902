"""A member's KYC through /api/v1/me/kyc, and the admin's queue, detail and decisions of
seed 004 acting on exactly those submissions."""

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources
from iwm.modules.kyc.models import KycDocument, KycVerification
from iwm.modules.users.models import User, UserStatus
from tests.factories.admin import admin_headers
from tests.factories.images import gif, jpeg, png
from tests.factories.members import ME, PDF, personal_info_json, signed_in, submit
from tests.factories.money import fresh

KYC = "/api/v1/admin/kyc"


async def test_submission_reaches_the_admin_queue_and_approval_reaches_the_member(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    member, headers = await signed_in(client, resources)
    _, admin = await admin_headers(client, resources)
    passport, selfie = jpeg(), png()

    resp = await submit(client, headers, {"PASSPORT": passport, "SELFIE": selfie})

    assert resp.status_code == 201, resp.text
    mine = resp.json()["data"]
    assert mine["status"] == "SUBMITTED"
    assert mine["level"] == "STANDARD"
    assert mine["personalInfo"]["documentNumber"] == "4509 123456"
    assert sorted(d["type"] for d in mine["documents"]) == ["PASSPORT", "SELFIE"]
    assert [h["action"] for h in mine["history"]] == ["SUBMITTED"]
    docs = list(await db.scalars(select(KycDocument).order_by(KycDocument.position)))
    assert [await resources.storage.get(d.storage_key) for d in docs] == [passport, selfie]
    assert [d.content_type for d in docs] == ["image/jpeg", "image/png"]

    queue = (await client.get(f"{KYC}/queue", headers=admin)).json()["data"]
    [item] = queue["submissions"]
    assert item["id"] == mine["id"]
    assert item["user"]["id"] == str(member.id)
    assert item["documentsCount"] == 2
    detail = (await client.get(f"{KYC}/{mine['id']}", headers=admin)).json()["data"]
    assert {d["id"] for d in detail["documents"]} == {d["id"] for d in mine["documents"]}
    assert detail["personalInfo"]["address"]["postalCode"] == "125009"

    approved = await client.post(
        f"{KYC}/{mine['id']}/approve", json={"level": "ENHANCED"}, headers=admin
    )
    assert approved.status_code == 200, approved.text
    after = (await client.get(f"{ME}/kyc", headers=headers)).json()["data"]
    assert after["status"] == "APPROVED"
    assert after["level"] == "ENHANCED"
    assert after["expiresAt"] == approved.json()["data"]["expiresAt"]
    assert {d["status"] for d in after["documents"]} == {"VERIFIED"}
    assert [h["action"] for h in after["history"]] == ["SUBMITTED", "APPROVED"]
    user = await (await fresh(db)).get(User, member.id)
    assert user is not None
    assert user.kyc_status == "APPROVED"


async def test_nothing_submitted_reads_as_not_submitted(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, other = await signed_in(client, resources)
    _, headers = await signed_in(client, resources)
    assert (await submit(client, other)).status_code == 201

    resp = await client.get(f"{ME}/kyc", headers=headers)

    assert resp.status_code == 200
    data = resp.json()["data"]
    assert (data["id"], data["status"], data["documents"], data["history"]) == (
        None,
        "NOT_SUBMITTED",
        [],
        [],
    )
    assert (await client.get(f"{ME}/kyc")).status_code == 401


async def test_an_id_card_needs_both_sides_and_enhanced_a_proof_of_address(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await signed_in(client, resources)
    card = personal_info_json(documentType="ID_CARD")

    one_side = await submit(client, headers, {"ID_CARD_FRONT": jpeg(), "SELFIE": jpeg()}, info=card)
    no_proof = await submit(
        client,
        headers,
        {"ID_CARD_FRONT": jpeg(), "ID_CARD_BACK": jpeg(), "SELFIE": jpeg()},
        level="ENHANCED",
        info=card,
    )
    assert (await db.scalar(select(KycVerification.id))) is None
    full = await submit(
        client,
        headers,
        {
            "ID_CARD_FRONT": jpeg(),
            "ID_CARD_BACK": jpeg(),
            "SELFIE": jpeg(),
            "PROOF_OF_ADDRESS": PDF,
        },
        level="ENHANCED",
        info=card,
    )

    assert one_side.status_code == 400
    assert one_side.json()["error"]["code"] == "VALIDATION_ERROR"
    assert list(one_side.json()["error"]["details"]) == ["ID_CARD_BACK"]
    assert no_proof.status_code == 400
    assert list(no_proof.json()["error"]["details"]) == ["PROOF_OF_ADDRESS"]
    assert full.status_code == 201, full.text
    types = {d["type"]: d for d in full.json()["data"]["documents"]}
    assert set(types) == {"ID_CARD_FRONT", "ID_CARD_BACK", "SELFIE", "PROOF_OF_ADDRESS"}
    assert types["PROOF_OF_ADDRESS"]["fileName"] == "proof_of_address.bin"
    # Each file is served as what it is: a reviewer's browser refuses a PDF typed as JPEG.
    for kind, content_type in (("PROOF_OF_ADDRESS", "application/pdf"), ("SELFIE", "image/jpeg")):
        url = types[kind]["fileUrl"]
        if "/media/" in url:
            served = await client.get(url)
        else:  # an S3 presigned link
            async with httpx.AsyncClient() as s3:
                served = await s3.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"] == content_type, kind
    assert served.content == jpeg()


@pytest.mark.parametrize(
    ("files", "field", "reason"),
    [
        ({"PASSPORT": jpeg(), "SELFIE": gif()}, "SELFIE", "unsupported file type"),
        ({"PASSPORT": jpeg()[:200], "SELFIE": jpeg()}, "PASSPORT", "not a readable"),
        ({"PASSPORT": PDF[:-7], "SELFIE": jpeg()}, "PASSPORT", "not a complete PDF"),
        ({"PASSPORT": b"", "SELFIE": jpeg()}, "PASSPORT", "empty"),
    ],
)
async def test_files_that_are_not_documents_are_refused(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    files: dict[str, bytes],
    field: str,
    reason: str,
) -> None:
    _, headers = await signed_in(client, resources)

    resp = await submit(client, headers, files)

    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert reason in error["details"][field][0]
    assert (await db.scalar(select(KycVerification.id))) is None
    assert [o async for o in resources.storage.list()] == []


async def test_size_and_pixel_limits(
    client: httpx.AsyncClient, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, headers = await signed_in(client, resources)
    big = jpeg(640, 480)
    monkeypatch.setattr(resources.settings, "kyc_document_max_bytes", len(big) - 1)
    too_large = await submit(client, headers, {"PASSPORT": big, "SELFIE": jpeg()})
    monkeypatch.setattr(resources.settings, "kyc_document_max_bytes", 10 * 1024 * 1024)
    monkeypatch.setattr(resources.settings, "max_image_side", 400)
    too_wide = await submit(client, headers, {"PASSPORT": big, "SELFIE": jpeg()})

    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "PASSPORT" in too_large.json()["error"]["details"]
    assert too_wide.status_code == 400
    assert "400 pixels on a side" in too_wide.json()["error"]["details"]["PASSPORT"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dateOfBirth": "2020-01-01"}, "personalInfo.dateOfBirth"),
        ({"documentExpiryDate": "2020-01-01"}, "personalInfo.documentExpiryDate"),
        ({"documentType": "LIBRARY_CARD"}, "personalInfo.documentType"),
        ({"nationality": "Russia"}, "personalInfo.nationality"),
        ({"address": {"country": "RU"}}, "personalInfo.address.city"),
        ({"shoeSize": 42}, "personalInfo.shoeSize"),
    ],
)
async def test_personal_info_is_validated(
    client: httpx.AsyncClient, resources: Resources, change: dict[str, object], field: str
) -> None:
    _, headers = await signed_in(client, resources)

    resp = await submit(client, headers, info=personal_info_json(**change))

    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]["details"]


async def test_form_errors(client: httpx.AsyncClient, resources: Resources) -> None:
    _, headers = await signed_in(client, resources)
    data = {"level": "STANDARD", "personalInfo": "{not json"}
    files = {"PASSPORT": ("p.jpg", jpeg(), "image/jpeg"), "SELFIE": ("s.jpg", jpeg(), "image/jpeg")}

    bad_json = await client.post(f"{ME}/kyc", data=data, files=files, headers=headers)
    unknown = await client.post(
        f"{ME}/kyc",
        data={"level": "STANDARD", "personalInfo": "{}", "DRIVING_LICENCE": "x"},
        files=files,
        headers=headers,
    )
    bad_level = await client.post(
        f"{ME}/kyc", data={**data, "level": "PLATINUM"}, files=files, headers=headers
    )

    assert bad_json.status_code == 400
    assert "personalInfo" in bad_json.json()["error"]["details"]
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"] == {"DRIVING_LICENCE": ["unknown field"]}
    assert bad_level.status_code == 400
    assert "level" in bad_level.json()["error"]["details"]


async def test_one_open_submission_at_a_time_and_resubmission_after_rejection(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await signed_in(client, resources)
    _, admin = await admin_headers(client, resources)
    first = (await submit(client, headers)).json()["data"]

    again = await submit(client, headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "KYC_ALREADY_SUBMITTED"

    await client.post(
        f"{KYC}/{first['id']}/reject",
        json={"reason": "Blurred", "allowResubmission": True},
        headers=admin,
    )
    second = await submit(client, headers)
    assert second.status_code == 201
    data = second.json()["data"]
    assert data["id"] != first["id"]
    assert [(h["verificationId"], h["action"]) for h in data["history"]] == [
        (first["id"], "SUBMITTED"),
        (first["id"], "REJECTED"),
        (data["id"], "SUBMITTED"),
    ]

    await client.post(f"{KYC}/{data['id']}/approve", json={"level": "STANDARD"}, headers=admin)
    same_level = await submit(client, headers, level="BASIC")
    higher = await submit(
        client,
        headers,
        {"PASSPORT": jpeg(), "SELFIE": jpeg(), "PROOF_OF_ADDRESS": PDF},
        level="ENHANCED",
    )
    assert same_level.status_code == 409
    assert same_level.json()["error"]["code"] == "KYC_ALREADY_APPROVED"
    assert higher.status_code == 201


async def test_rejected_for_good_cannot_submit_again(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await signed_in(client, resources)
    _, admin = await admin_headers(client, resources)
    first = (await submit(client, headers)).json()["data"]
    await client.post(
        f"{KYC}/{first['id']}/reject",
        json={"reason": "Forged", "allowResubmission": False},
        headers=admin,
    )

    resp = await submit(client, headers)

    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "KYC_RESUBMISSION_NOT_ALLOWED"
    mine = (await client.get(f"{ME}/kyc", headers=headers)).json()["data"]
    assert (mine["status"], mine["canResubmit"], mine["rejectionReason"]) == (
        "REJECTED",
        False,
        "Forged",
    )


async def test_needs_info_takes_exactly_the_documents_asked_for(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await signed_in(client, resources)
    _, admin = await admin_headers(client, resources)
    first = (await submit(client, headers)).json()["data"]
    selfie = next(d for d in first["documents"] if d["type"] == "SELFIE")

    too_early = await client.post(
        f"{ME}/kyc/documents", files={"SELFIE": ("s.jpg", jpeg(), "image/jpeg")}, headers=headers
    )
    asked = await client.post(
        f"{KYC}/{first['id']}/request-info",
        json={
            "note": "The selfie is blurred",
            "documents": [{"documentId": selfie["id"], "reason": "blurred"}],
        },
        headers=admin,
    )
    mine = (await client.get(f"{ME}/kyc", headers=headers)).json()["data"]
    wrong = await client.post(
        f"{ME}/kyc/documents",
        files={"PASSPORT": ("p.jpg", jpeg(), "image/jpeg")},
        headers=headers,
    )
    new_selfie = jpeg(colour="#e76f51")
    right = await client.post(
        f"{ME}/kyc/documents",
        files={"SELFIE": ("new.jpg", new_selfie, "image/jpeg")},
        headers=headers,
    )

    assert too_early.status_code == 400
    assert too_early.json()["error"]["code"] == "NOT_NEEDS_INFO"
    assert asked.status_code == 200, asked.text
    assert asked.json()["data"]["requestedDocuments"] == ["SELFIE"]
    assert mine["status"] == "NEEDS_INFO"
    assert mine["requestedDocuments"] == ["SELFIE"]
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"] == {
        "PASSPORT": ["not asked for by the review"],
        "SELFIE": ["asked for by the review"],
    }
    assert right.status_code == 200, right.text
    data = right.json()["data"]
    assert data["status"] == "SUBMITTED"
    assert data["requestedDocuments"] == []
    assert [h["action"] for h in data["history"]] == [
        "SUBMITTED",
        "INFO_REQUESTED",
        "DOCUMENTS_RESUBMITTED",
    ]
    stored = await db.scalar(select(KycDocument).where(KycDocument.file_name == "new.jpg"))
    assert stored is not None
    assert await resources.storage.get(stored.storage_key) == new_selfie

    detail = (await client.get(f"{KYC}/{first['id']}", headers=admin)).json()["data"]
    assert [(d["type"], d["status"]) for d in detail["documents"]] == [
        ("PASSPORT", "PENDING"),
        ("SELFIE", "REJECTED"),
        ("SELFIE", "PENDING"),
    ]
    queue = (await client.get(f"{KYC}/queue", headers=admin)).json()["data"]
    assert [s["status"] for s in queue["submissions"]] == ["SUBMITTED"]
    approve = await client.post(
        f"{KYC}/{first['id']}/approve", json={"level": "STANDARD"}, headers=admin
    )
    assert approve.status_code == 200


async def test_an_unverified_account_cannot_submit(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await signed_in(client, resources, status=UserStatus.PENDING_VERIFICATION)

    resp = await submit(client, headers)

    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "EMAIL_NOT_VERIFIED"
    assert (await db.scalar(select(KycVerification.id))) is None
