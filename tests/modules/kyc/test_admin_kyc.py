"""GET /api/v1/admin/kyc/queue, GET /kyc/{id}, POST /kyc/{id}/approve and /reject."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.kyc.models import KycDocument, KycPriority, KycStatus, KycVerification
from iwm.modules.kyc.schemas import DocumentUpload
from iwm.modules.kyc.service import KycService
from iwm.modules.users.models import User
from tests.factories.admin import (
    API,
    admin_headers,
    audit_rows,
    make_member,
    personal_info,
    submit_kyc,
)
from tests.factories.images import jpeg
from tests.factories.kiosk_network import login, make_user, principal_of

KYC = f"{API}/kyc"


async def test_queue_lists_pending_submissions_with_stats(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    admin, headers = await admin_headers(client, resources)
    alice = await make_member(
        resources, email="alice@example.com", first_name="Alice", last_name="Smith"
    )
    submitted = await submit_kyc(
        resources, alice, submitted_at=clock.now() - timedelta(hours=11, minutes=5)
    )
    reviewed = await submit_kyc(resources, await make_member(resources))
    needs_info = await submit_kyc(resources, await make_member(resources))
    done = await submit_kyc(resources, await make_member(resources))
    async with resources.sessionmaker.begin() as db:
        service = KycService(db, resources.settings, resources.storage)
        await service.start_review(principal_of(admin), reviewed.id)
        await service.request_info(principal_of(admin), needs_info.id, "Selfie is blurred")

    resp = await client.get(
        f"{KYC}/queue", params={"sortBy": "submittedAt", "sortOrder": "asc"}, headers=headers
    )
    approve = await client.post(
        f"{KYC}/{done.id}/approve", json={"level": "BASIC"}, headers=headers
    )
    assert approve.status_code == 200

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    assert body["meta"]["pagination"] == {
        "total": 4,
        "page": 1,
        "pageSize": 20,
        "totalPages": 1,
        "hasNext": False,
        "hasPrevious": False,
    }
    first = body["data"]["submissions"][0]
    assert first == {
        "id": str(submitted.id),
        "user": {"id": str(alice.id), "email": "alice@example.com", "name": "Alice Smith"},
        "status": "SUBMITTED",
        "level": "STANDARD",
        "priority": "NORMAL",
        "submittedAt": first["submittedAt"],
        "assignedTo": None,
        "documentsCount": 2,
        "waitingTime": 11,
    }
    in_review = next(s for s in body["data"]["submissions"] if s["id"] == str(reviewed.id))
    assert in_review["status"] == "UNDER_REVIEW"
    assert in_review["assignedTo"] == admin.full_name
    assert body["data"]["stats"] == {
        "pending": 2,
        "underReview": 1,
        "needsInfo": 1,
        "averageProcessingTime": 0.0,
    }

    after = (await client.get(f"{KYC}/queue", headers=headers)).json()
    assert str(done.id) not in {s["id"] for s in after["data"]["submissions"]}
    assert after["data"]["stats"]["pending"] == 1


async def test_queue_filters_and_sorting(client: httpx.AsyncClient, resources: Resources) -> None:
    admin, headers = await admin_headers(client, resources)
    now = clock.now()
    low = await submit_kyc(
        resources,
        await make_member(resources),
        priority=KycPriority.LOW,
        submitted_at=now - timedelta(hours=3),
    )
    high = await submit_kyc(
        resources,
        await make_member(resources),
        priority=KycPriority.HIGH,
        submitted_at=now - timedelta(hours=1),
    )
    normal = await submit_kyc(
        resources, await make_member(resources), submitted_at=now - timedelta(hours=2)
    )
    async with resources.sessionmaker.begin() as db:
        await KycService(db, resources.settings, resources.storage).start_review(
            principal_of(admin), normal.id
        )

    async def ids(**params: str) -> list[str]:
        r = await client.get(f"{KYC}/queue", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [s["id"] for s in r.json()["data"]["submissions"]]

    assert await ids() == [str(low.id), str(normal.id), str(high.id)]  # oldest first
    assert await ids(sortOrder="desc") == [str(high.id), str(normal.id), str(low.id)]
    assert await ids(sortBy="priority") == [str(high.id), str(normal.id), str(low.id)]
    assert await ids(sortBy="priority", sortOrder="asc") == [
        str(low.id),
        str(normal.id),
        str(high.id),
    ]
    assert await ids(priority="HIGH") == [str(high.id)]
    assert await ids(status="UNDER_REVIEW") == [str(normal.id)]
    assert await ids(status="SUBMITTED", priority="LOW") == [str(low.id)]
    assert await ids(status="NEEDS_INFO") == []

    paged = (
        await client.get(f"{KYC}/queue", params={"pageSize": 2, "page": 2}, headers=headers)
    ).json()
    assert paged["meta"]["pagination"]["totalPages"] == 2
    assert paged["meta"]["pagination"]["hasPrevious"] is True
    assert paged["meta"]["pagination"]["hasNext"] is False
    assert [s["id"] for s in paged["data"]["submissions"]] == [str(high.id)]

    for bad in ({"pageSize": 51}, {"status": "APPROVED"}, {"priority": "URGENT"}, {"sortBy": "x"}):
        r = await client.get(f"{KYC}/queue", params=bad, headers=headers)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_detail_has_personal_data_documents_and_history(
    client: httpx.AsyncClient, resources: Resources, is_production: bool
) -> None:
    _, headers = await admin_headers(client, resources)
    user = await make_member(resources, first_name="Alice", last_name="Smith", phone="+79990001122")
    verification = await submit_kyc(resources, user)

    resp = await client.get(f"{KYC}/{verification.id}", headers=headers)

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["id"] == str(verification.id)
    assert data["user"]["name"] == "Alice Smith"
    assert data["user"]["phone"] == "+79990001122"
    assert data["status"] == "SUBMITTED"
    assert data["personalInfo"] == {
        "firstName": "Alice",
        "lastName": "Smith",
        "middleName": None,
        "dateOfBirth": "1990-05-15",
        "nationality": "RU",
        "documentNumber": "4509 123456",
        "documentType": "PASSPORT",
        "documentIssueDate": "2015-01-01",
        "documentExpiryDate": "2035-01-01",
        "address": {
            "country": "RU",
            "region": "",
            "city": "Moscow",
            "street": "Tverskaya",
            "building": "1",
            "apartment": None,
            "postalCode": "125009",
        },
    }
    assert [(d["type"], d["fileName"], d["status"]) for d in data["documents"]] == [
        ("PASSPORT", "passport.jpg", "PENDING"),
        ("SELFIE", "selfie.png", "PENDING"),
    ]
    assert [h["action"] for h in data["history"]] == ["SUBMITTED"]
    assert data["reviewedBy"] is None
    assert data["rejectionReason"] is None

    # The links load the stored files (the app's signed /media links, or S3 presigned).
    passport = data["documents"][0]
    if is_production:
        async with httpx.AsyncClient() as s3:
            original = await s3.get(passport["fileUrl"])
            thumb = await s3.get(passport["thumbnailUrl"])
    else:
        original = await client.get(passport["fileUrl"])
        thumb = await client.get(passport["thumbnailUrl"])
    assert original.status_code == 200
    assert original.content == jpeg()
    assert thumb.status_code == 200
    assert thumb.content[:3] == b"\xff\xd8\xff"


async def test_unknown_kyc_is_404(client: httpx.AsyncClient, resources: Resources) -> None:
    _, headers = await admin_headers(client, resources)
    missing = "00000000-0000-4000-8000-000000000000"
    for call in (
        client.get(f"{KYC}/{missing}", headers=headers),
        client.post(f"{KYC}/{missing}/approve", json={"level": "BASIC"}, headers=headers),
        client.post(f"{KYC}/{missing}/reject", json={"reason": "x"}, headers=headers),
    ):
        resp = await call
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "KYC_NOT_FOUND"


async def test_approve(client: httpx.AsyncClient, resources: Resources, db: AsyncSession) -> None:
    admin, headers = await admin_headers(client, resources)
    user = await make_member(resources)
    verification = await submit_kyc(resources, user)

    resp = await client.post(
        f"{KYC}/{verification.id}/approve",
        json={"level": "ENHANCED", "note": "All documents verified successfully"},
        headers=headers,
    )

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    approved_at = datetime.fromisoformat(data["approvedAt"])
    assert data == {
        "id": str(verification.id),
        "userId": str(user.id),
        "status": "APPROVED",
        "level": "ENHANCED",
        "approvedAt": data["approvedAt"],
        "approvedBy": admin.full_name,
        "expiresAt": (approved_at + timedelta(days=365))
        .astimezone(UTC)
        .isoformat()
        .replace("+00:00", "Z"),
    }
    (audit,) = await audit_rows(db)
    assert (audit.action, audit.entity_type, audit.entity_id) == (
        "KYC_APPROVED",
        "kyc",
        str(verification.id),
    )
    assert audit.previous_values == {"status": "SUBMITTED", "level": "STANDARD"}
    stored = (
        await db.execute(select(KycVerification).where(KycVerification.id == verification.id))
    ).scalar_one()
    assert (stored.status, stored.level, stored.reviewed_by) == ("APPROVED", "ENHANCED", admin.id)
    docs = (
        await db.execute(select(KycDocument.status).where(KycDocument.verification_id == stored.id))
    ).scalars()
    assert set(docs) == {"VERIFIED"}
    owner = (await db.execute(select(User).where(User.id == user.id))).scalar_one()
    assert (owner.kyc_status, owner.kyc_level) == ("APPROVED", "ENHANCED")

    detail = (await client.get(f"{KYC}/{verification.id}", headers=headers)).json()["data"]
    assert detail["reviewedBy"] == admin.full_name
    assert [(h["action"], h["note"]) for h in detail["history"]] == [
        ("SUBMITTED", None),
        ("APPROVED", "All documents verified successfully"),
    ]
    listed = await client.get(f"{API}/users", params={"kycStatus": "APPROVED"}, headers=headers)
    assert [u["kyc"] for u in listed.json()["data"]["users"]] == [
        {"status": "APPROVED", "level": "ENHANCED"}
    ]

    again = await client.post(
        f"{KYC}/{verification.id}/approve", json={"level": "BASIC"}, headers=headers
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "NOT_REVIEWABLE"
    assert len(await audit_rows(db)) == 1


async def test_approve_with_an_explicit_expiry(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin_headers(client, resources)
    verification = await submit_kyc(resources, await make_member(resources))
    url = f"{KYC}/{verification.id}/approve"
    past = await client.post(
        url, json={"level": "BASIC", "expiresAt": "2001-01-01T00:00:00Z"}, headers=headers
    )
    assert past.status_code == 400
    assert past.json()["error"]["code"] == "VALIDATION_ERROR"
    for body in ({}, {"level": "PLATINUM"}, {"level": "BASIC", "extra": 1}):
        bad = await client.post(url, json=body, headers=headers)
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await audit_rows(db) == []
    expiry = (clock.now() + timedelta(days=30)).replace(microsecond=0)
    ok = await client.post(
        url,
        json={"level": "BASIC", "expiresAt": expiry.isoformat().replace("+00:00", "Z")},
        headers=headers,
    )
    assert ok.status_code == 200
    assert ok.json()["data"]["expiresAt"] == expiry.isoformat().replace("+00:00", "Z")


async def test_reject(client: httpx.AsyncClient, resources: Resources, db: AsyncSession) -> None:
    admin, headers = await admin_headers(client, resources)
    user = await make_member(resources)
    verification = await submit_kyc(resources, user)
    other = await submit_kyc(resources, await make_member(resources))
    detail = (await client.get(f"{KYC}/{verification.id}", headers=headers)).json()["data"]
    selfie = detail["documents"][1]["id"]
    foreign = (await client.get(f"{KYC}/{other.id}", headers=headers)).json()["data"]
    url = f"{KYC}/{verification.id}/reject"

    for body in (
        {},
        {"reason": ""},
        {"reason": "  "},
        {"reason": "x", "rejectedDocuments": [{"documentId": selfie}]},
        {
            "reason": "x",
            "rejectedDocuments": [{"documentId": foreign["documents"][0]["id"], "reason": "y"}],
        },
    ):
        bad = await client.post(url, json=body, headers=headers)
        assert bad.status_code == 400, body
        assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await audit_rows(db) == []

    resp = await client.post(
        url,
        json={
            "reason": "Selfie does not match the passport",
            "rejectedDocuments": [{"documentId": selfie, "reason": "Face not visible"}],
            "allowResubmission": False,
        },
        headers=headers,
    )

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data == {
        "id": str(verification.id),
        "userId": str(user.id),
        "status": "REJECTED",
        "reason": "Selfie does not match the passport",
        "rejectedAt": data["rejectedAt"],
        "rejectedBy": admin.full_name,
        "canResubmit": False,
    }
    after = (await client.get(f"{KYC}/{verification.id}", headers=headers)).json()["data"]
    assert [d["status"] for d in after["documents"]] == ["PENDING", "REJECTED"]
    assert after["rejectionReason"] == "Selfie does not match the passport"
    (audit,) = await audit_rows(db)
    assert audit.action == "KYC_REJECTED"
    assert audit.new_values["rejectedDocuments"] == [selfie]
    owner = (await db.execute(select(User).where(User.id == user.id))).scalar_one()
    assert owner.kyc_status == "REJECTED"

    again = await client.post(url, json={"reason": "x"}, headers=headers)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "NOT_REVIEWABLE"
    approve = await client.post(
        f"{KYC}/{verification.id}/approve", json={"level": "BASIC"}, headers=headers
    )
    assert approve.json()["error"]["code"] == "NOT_REVIEWABLE"
    assert len(await audit_rows(db)) == 1


@pytest.mark.parametrize("status", [KycStatus.UNDER_REVIEW, KycStatus.NEEDS_INFO])
async def test_reviewable_states_can_be_decided(
    client: httpx.AsyncClient, resources: Resources, status: KycStatus
) -> None:
    admin, headers = await admin_headers(client, resources)
    verification = await submit_kyc(resources, await make_member(resources))
    async with resources.sessionmaker.begin() as db:
        service = KycService(db, resources.settings, resources.storage)
        if status is KycStatus.UNDER_REVIEW:
            await service.start_review(principal_of(admin), verification.id)
        else:
            await service.request_info(principal_of(admin), verification.id, "More please")
    resp = await client.post(
        f"{KYC}/{verification.id}/approve", json={"level": "STANDARD"}, headers=headers
    )
    assert resp.status_code == 200


async def test_submission_refuses_files_that_are_not_documents(resources: Resources) -> None:
    user = await make_member(resources)
    async with resources.sessionmaker() as db:
        service = KycService(db, resources.settings, resources.storage)
        with pytest.raises(Exception, match="JPEG, PNG or PDF"):
            await service.submit(
                user.id,
                personal_info(),
                [DocumentUpload(type="PASSPORT", file_name="x.exe", data=b"MZ\x90\x00")],  # type: ignore[arg-type]
            )


@pytest.mark.parametrize("role", [Role.USER, Role.PARTNER])
async def test_non_admins_get_403(
    client: httpx.AsyncClient, resources: Resources, role: Role
) -> None:
    headers = await login(client, await make_user(resources, role))
    verification = await submit_kyc(resources, await make_member(resources))
    for call in (
        client.get(f"{KYC}/queue", headers=headers),
        client.get(f"{KYC}/{verification.id}", headers=headers),
        client.post(f"{KYC}/{verification.id}/approve", json={"level": "BASIC"}, headers=headers),
        client.post(f"{KYC}/{verification.id}/reject", json={"reason": "x"}, headers=headers),
    ):
        resp = await call
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "FORBIDDEN"


async def test_two_admins_deciding_at_once_only_one_wins(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, production_only: None
) -> None:
    _, first = await admin_headers(client, resources)
    _, second = await admin_headers(client, resources)
    verification = await submit_kyc(resources, await make_member(resources))
    results = await asyncio.gather(
        client.post(f"{KYC}/{verification.id}/approve", json={"level": "BASIC"}, headers=first),
        client.post(f"{KYC}/{verification.id}/reject", json={"reason": "no"}, headers=second),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 400]
    loser = next(r for r in results if r.status_code == 400)
    assert loser.json()["error"]["code"] == "NOT_REVIEWABLE"
    assert len(await audit_rows(db)) == 1
