"""Builders for the member API: a signed-in member and his KYC form."""

import json
from typing import Any

import httpx

from iwm.core.resources import Resources
from iwm.modules.users.models import User, UserStatus
from tests.factories.admin import make_member
from tests.factories.images import jpeg, png
from tests.factories.kiosk_network import login

ME = "/api/v1/me"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


async def signed_in(
    client: httpx.AsyncClient,
    resources: Resources,
    first_name: str = "Anna",
    last_name: str = "Ivanova",
    status: UserStatus = UserStatus.ACTIVE,
    phone: str | None = None,
) -> tuple[User, dict[str, str]]:
    user = await make_member(
        resources, first_name=first_name, last_name=last_name, status=status, phone=phone
    )
    return user, await login(client, user)


def personal_info_json(**over: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "firstName": "Anna",
        "lastName": "Ivanova",
        "middleName": None,
        "dateOfBirth": "1990-05-15",
        "nationality": "RU",
        "documentNumber": "4509 123456",
        "documentType": "PASSPORT",
        "documentIssueDate": "2015-01-01",
        "documentExpiryDate": "2035-01-01",
        "address": {
            "country": "RU",
            "region": "Moscow",
            "city": "Moscow",
            "street": "Tverskaya",
            "building": "1",
            "apartment": None,
            "postalCode": "125009",
        },
    }
    info.update(over)
    return info


def kyc_form(
    files: dict[str, bytes] | None = None,
    level: str = "STANDARD",
    info: dict[str, Any] | None = None,
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """The multipart form of a submission; files default to a passport scan and a selfie."""
    parts = files if files is not None else {"PASSPORT": jpeg(), "SELFIE": png()}
    data = {"level": level, "personalInfo": json.dumps(info or personal_info_json())}
    return data, {
        kind: (f"{kind.lower()}.bin", content, "application/octet-stream")
        for kind, content in parts.items()
    }


async def submit(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    files: dict[str, bytes] | None = None,
    level: str = "STANDARD",
    info: dict[str, Any] | None = None,
) -> httpx.Response:
    data, upload = kyc_form(files, level, info)
    return await client.post(f"{ME}/kyc", data=data, files=upload, headers=headers)
