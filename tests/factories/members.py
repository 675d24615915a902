"""Builders for the member API: a signed-in member and his KYC form."""

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.commissions.admin_service import AdjustAction, CommissionService
from iwm.modules.commissions.models import Commission
from iwm.modules.kyc.models import KycLevel
from iwm.modules.kyc.schemas import ApproveRequest
from iwm.modules.kyc.service import KycService
from iwm.modules.network.models import NetworkPartner
from iwm.modules.users.models import User, UserStatus
from iwm.modules.users.service import principal_of
from tests.factories.admin import make_member, submit_kyc
from tests.factories.images import jpeg, png
from tests.factories.kiosk_network import login, make_user
from tests.factories.money import make_chain, make_product, paid_order

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


@dataclass
class Earner:
    """A partner (with a signed-in session) whose approved commissions make `available`."""

    user: User
    partner: NetworkPartner
    headers: dict[str, str]


async def approve_kyc(resources: Resources, user: User) -> None:
    verification = await submit_kyc(resources, user)
    staff = await make_user(resources, Role.ADMIN)
    async with resources.sessionmaker.begin() as db:
        await KycService(db, resources.settings, resources.storage).approve(
            principal_of(staff), verification.id, ApproveRequest(level=KycLevel.STANDARD)
        )


async def earner(
    client: httpx.AsyncClient, resources: Resources, available: str, *, kyc: bool = True
) -> Earner:
    """The sponsor of a buyer whose paid order earned him `available` (50% of a 10%
    commission volume at level 1), approved; with an approved KYC unless `kyc=False`."""
    chain = await make_chain(resources, levels=1)
    price = Decimal(available) * 20
    product = await make_product(resources, price=str(price), commission="10")
    order = await paid_order(resources, chain.buyer, product)
    staff = await make_user(resources, Role.ADMIN)
    async with resources.sessionmaker.begin() as db:
        [commission] = await db.scalars(
            select(Commission).where(
                Commission.source_id == order.id, Commission.partner_id == chain.partners[0].id
            )
        )
        await CommissionService(db, resources.settings).adjust(
            principal_of(staff), commission.id, AdjustAction.APPROVE, "checked", None
        )
    user = chain.users[0]
    if kyc:
        await approve_kyc(resources, user)
    return Earner(user, chain.partners[0], await login(client, user))


def bank(amount: str | float = 100, iban: str = "DE89 3704 0044 0532 0130 00") -> dict[str, Any]:
    return {
        "amount": amount,
        "method": {
            "type": "BANK_TRANSFER",
            "details": {"iban": iban, "accountHolder": "Olga Top"},
        },
    }
