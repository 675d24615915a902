"""`iwm demo-data`, admin part: members with profiles and addresses, every user status,
KYC submissions in every state and a partner tree several levels deep, all made through
the domain services. Safe to run twice: it stops when its first member exists."""

import io
import random
import re
from datetime import date, timedelta

from PIL import Image, ImageDraw
from rich.console import Console
from rich.progress import Progress

from iwm.core import clock
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.demo.progress import progress_bar
from iwm.modules.auth.accounts import AccountService
from iwm.modules.auth.schemas import RegisterRequest
from iwm.modules.kyc.models import DocumentKind, DocumentType, KycLevel, KycPriority
from iwm.modules.kyc.schemas import (
    ApproveRequest,
    DocumentUpload,
    KycAddress,
    PersonalInfo,
    RejectedDocument,
)
from iwm.modules.kyc.schemas import RejectRequest as KycReject
from iwm.modules.kyc.service import KycService
from iwm.modules.network.models import NetworkPartner
from iwm.modules.network.service import NetworkService
from iwm.modules.users.admin_service import UserAdminService
from iwm.modules.users.models import User, UserStatus
from iwm.modules.users.schemas import SuspendRequest, UserUpdate
from iwm.modules.users.service import UserService, principal_of

MEMBER_PASSWORD = "demo-password"  # noqa: S105 - documented demo credentials
MODERATOR = ("moderator@iwm.local", "Mia", "Moderator")
FIRST = [
    "Ivan",
    "Olga",
    "Sergey",
    "Anna",
    "Dmitry",
    "Elena",
    "Pavel",
    "Maria",
    "Alexey",
    "Natalia",
    "Yuri",
    "Irina",
    "Noa",
    "David",
    "Sofia",
    "Lucas",
    "Emma",
    "Mateo",
]
LAST = [
    "Petrov",
    "Ivanova",
    "Smirnov",
    "Kuznetsova",
    "Popov",
    "Volkova",
    "Levi",
    "Cohen",
    "Garcia",
    "Martin",
    "Rossi",
    "Novak",
]
CITIES = [
    ("RU", "Moscow"),
    ("RU", "Kazan"),
    ("IL", "Tel Aviv"),
    ("FR", "Paris"),
    ("ES", "Madrid"),
    ("DE", "Berlin"),
]
RANKS = [
    ("BRONZE", "Bronze Partner", 1),
    ("SILVER", "Silver Partner", 2),
    ("GOLD", "Gold Partner", 3),
    ("PLATINUM", "Platinum Partner", 4),
]
MEMBERS = 36
TREE_MEMBERS = 28
RANKED = 8
MARKER = "member01@iwm.local"
PENDING = {4, 13, 22, 31}
BANNED = {7}
# What happens to the i-th KYC submission (cycling); REJECTED ones are refused instead.
KYC_STAGES = ["submitted", "review", "needs_info", "approve", "approve", "submitted"]
KYC_SUBMISSIONS = 24
REJECTED = {5, 17}
_VERIFY_LINK = re.compile(r"verify-email\?token=([A-Za-z0-9_\-]+)")


def _document(label: str, colour: str) -> bytes:
    img = Image.new("RGB", (480, 320), colour)
    ImageDraw.Draw(img).text((30, 150), label, fill="white")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=75)
    return out.getvalue()


def _documents(member: User, level: KycLevel) -> list[DocumentUpload]:
    """A passport scan and a selfie; a proof of address too at the ENHANCED level."""
    files = [
        DocumentUpload(
            DocumentKind.PASSPORT,
            "passport.jpg",
            _document(f"PASSPORT {member.last_name}", "#264653"),
        ),
        DocumentUpload(
            DocumentKind.SELFIE, "selfie.jpg", _document(f"SELFIE {member.first_name}", "#2a9d8f")
        ),
    ]
    if level is KycLevel.ENHANCED:
        files.append(
            DocumentUpload(
                DocumentKind.PROOF_OF_ADDRESS,
                "utility-bill.jpg",
                _document(f"UTILITY BILL {member.last_name}", "#e76f51"),
            )
        )
    return files


async def load_admin_demo(resources: Resources, console: Console) -> None:
    async with resources.sessionmaker.begin() as db:
        users = UserService(db)
        if await users.by_email(MARKER) is not None:
            console.print("admin demo data already loaded; nothing to do")
            return
        root = await users.by_email("admin@iwm.local")
        if root is None:
            root = await users.create(
                "admin@iwm.local",
                {Role.SUPER_ADMIN},
                password_hash=resources.passwords.hash(MEMBER_PASSWORD),
            )
        moderator = await users.create(
            MODERATOR[0],
            {Role.ADMIN},
            password_hash=resources.passwords.hash(MEMBER_PASSWORD),
            first_name=MODERATOR[1],
            last_name=MODERATOR[2],
        )
    admin, reviewer = principal_of(root), principal_of(moderator)
    rng = random.Random(11)  # noqa: S311 - demo data, not secrets
    with progress_bar() as progress:
        members = await _members(resources, rng, progress)
        async with resources.sessionmaker.begin() as db:
            admin_users = UserAdminService(db, resources.sessions)
            await admin_users.suspend(
                admin, members[10].id, SuspendRequest(reason="Chargeback under review", duration=7)
            )
            await admin_users.suspend(
                admin, members[11].id, SuspendRequest(reason="Terms of service violation")
            )
            await admin_users.update(
                reviewer, members[2].id, UserUpdate(note="Asked to change the phone number")
            )
        await _kyc(resources, rng, progress, members, admin, reviewer)
    console.print(
        f"admin demo: {MEMBERS} members (password [bold]{MEMBER_PASSWORD}[/bold]), "
        f"moderator {MODERATOR[0]}, {KYC_SUBMISSIONS} KYC submissions, "
        f"{sum(i not in PENDING for i in range(TREE_MEMBERS))} network partners"
    )


async def _members(resources: Resources, rng: random.Random, progress: Progress) -> list[User]:
    """Members sign up as they would through `/auth/register` (the tree's members under the
    referral code of a partner who joined shortly before them), verify their address with
    the mailed link (all but the PENDING ones) and, in the tree, join the programme."""
    now = clock.now()
    members: list[User] = []
    partners: list[NetworkPartner] = []
    task = progress.add_task("members", total=MEMBERS)
    async with resources.sessionmaker.begin() as db:
        network = NetworkService(db, resources.settings)
        for code, name, level in RANKS:
            await network.ensure_rank(code, name, level)
    for i in range(MEMBERS):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 5) % len(LAST)]
        country, city = CITIES[i % len(CITIES)]
        in_tree = i < TREE_MEMBERS and i not in PENDING
        # Each partner signs up under one of the last few: a tree several levels deep.
        sponsor = partners[max(0, len(partners) - rng.randint(1, 4))] if partners else None
        async with resources.sessionmaker.begin() as db:
            registered = await AccountService(db, resources).register(
                RegisterRequest(
                    email=f"member{i + 1:02d}@iwm.local",
                    password=MEMBER_PASSWORD,
                    first_name=first,
                    last_name=last,
                    phone=f"+7999{rng.randint(1000000, 9999999)}",
                    language="ru" if country == "RU" else "en",
                    referral_code=sponsor.referral_code if sponsor and in_tree else None,
                ),
                ip=None,
            )
        user = registered.user
        if i not in PENDING:
            link = _VERIFY_LINK.search(registered.mail.body)
            assert link is not None  # noqa: S101 (the verification mail carries its link)
            async with resources.sessionmaker.begin() as db:
                user = await AccountService(db, resources).verify_email(link.group(1), ip=None)
        async with resources.sessionmaker.begin() as db:
            service = UserService(db)
            user = await service.get(user.id)
            user.date_of_birth = date(1970 + i % 30, 1 + i % 12, 1 + i % 27)
            if i not in PENDING:
                user.last_login_at = now - timedelta(hours=rng.randint(1, 24 * 30))
            if i in BANNED:
                user.status = UserStatus.BANNED
            user.two_factor_enabled = i % 4 == 0
            user.two_factor_method = "TOTP" if user.two_factor_enabled else None
            await service.add_address(
                user.id,
                country=country,
                city=city,
                street="Main street",
                building=str(1 + i),
                postal_code=f"{10000 + i}",
                is_default=True,
            )
            if i % 6 == 1:
                await service.add_address(
                    user.id, country=country, city=city, label="Work", street="Office park"
                )
            if in_tree:
                network = NetworkService(db, resources.settings)
                partner = await network.join(user.id, None)
                if len(partners) < RANKED:
                    await network.set_rank(
                        partner.id, RANKS[min(3, (RANKED - len(partners)) // 2)][0]
                    )
                partners.append(partner)
            members.append(user)
        progress.advance(task)
    return members


async def _kyc(
    resources: Resources,
    rng: random.Random,
    progress: Progress,
    members: list[User],
    admin: Principal,
    reviewer: Principal,
) -> None:
    now = clock.now()
    task = progress.add_task("KYC", total=KYC_SUBMISSIONS)
    for i, member in enumerate(members[:KYC_SUBMISSIONS]):
        country, city = CITIES[i % len(CITIES)]
        level = KycLevel.ENHANCED if i % 5 == 0 else KycLevel.STANDARD
        async with resources.sessionmaker.begin() as db:
            kyc = KycService(db, resources.settings, resources.storage)
            verification = await kyc.submit(
                member.id,
                PersonalInfo(
                    first_name=member.first_name,
                    last_name=member.last_name,
                    date_of_birth=member.date_of_birth or date(1990, 1, 1),
                    nationality=country,
                    document_number=f"45{rng.randint(10, 99)} {rng.randint(100000, 999999)}",
                    document_type=DocumentType.PASSPORT,
                    document_issue_date=date(2016, 3, 1),
                    document_expiry_date=date(2036, 3, 1),
                    address=KycAddress(
                        country=country,
                        city=city,
                        street="Main street",
                        building=str(1 + i),
                        postal_code=f"{10000 + i}",
                    ),
                ),
                _documents(member, level),
                level=level,
                priority=[KycPriority.NORMAL, KycPriority.HIGH, KycPriority.LOW][i % 3],
            )
            verification.submitted_at = now - timedelta(hours=2 + i * 7)
            await db.flush()
            stage = "reject" if i in REJECTED else KYC_STAGES[i % len(KYC_STAGES)]
            if stage == "review":
                await kyc.start_review(reviewer, verification.id)
            elif stage == "needs_info":
                selfie = [d for d in await kyc.documents(verification.id) if d.type == "SELFIE"]
                await kyc.request_info(
                    reviewer,
                    verification.id,
                    "The selfie is blurred",
                    [RejectedDocument(document_id=d.id, reason="blurred") for d in selfie],
                )
            elif stage == "approve":
                await kyc.approve(
                    reviewer,
                    verification.id,
                    ApproveRequest(level=KycLevel.STANDARD, note="Documents verified"),
                )
            elif stage == "reject":
                await kyc.reject(admin, verification.id, KycReject(reason="Document expired"))
        progress.advance(task)
