"""`iwm demo-data`, kiosk part: a small, realistic kiosk network made through the services.

Safe to run twice: it stops when the demo partner already exists.
"""

import io
import random
from datetime import timedelta

from PIL import Image, ImageDraw
from rich.console import Console
from sqlalchemy import update

from iwm.core import clock
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.demo.progress import progress_bar
from iwm.modules.codes.service import CodeService
from iwm.modules.kiosks.models import Kiosk, KioskStatus
from iwm.modules.kiosks.schemas import ErrorReport, KioskCreate
from iwm.modules.kiosks.service import KioskService
from iwm.modules.orders.models import Order, PrintStatus
from iwm.modules.orders.schemas import NewOrderForm
from iwm.modules.orders.service import OrderService
from iwm.modules.shops.schemas import ShopCreate
from iwm.modules.shops.service import ShopService
from iwm.modules.users.service import UserService, principal_of

DEMO_PASSWORD = "demo-password"  # noqa: S105 - documented demo credentials
ACCOUNTS = [
    ("admin@iwm.local", Role.SUPER_ADMIN, "Ada", "Admin"),
    ("partner@iwm.local", Role.PARTNER, "Pia", "Partner"),
    ("partner2@iwm.local", Role.PARTNER, "Paz", "Second"),
]
CUSTOMERS = [
    ("John Doe", "john@example.com", "+1234567890"),
    ("Noa Levi", "noa@example.com", "+972501234567"),
    ("Marie Curie", "marie@example.com", "+33612345678"),
    ("Carlos Ruiz", "carlos@example.com", "+34600111222"),
    ("Anna Schmidt", "anna@example.com", "+4915112345678"),
]
FRESH_ORDERS_PER_KIOSK = 4
COLOURS = ["#e76f51", "#2a9d8f", "#e9c46a", "#264653", "#f4a261", "#8ab17d"]


def demo_photo(label: str, colour: str) -> bytes:
    img = Image.new("RGB", (600, 400), colour)
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, 580, 380), outline="white", width=6)
    draw.text((40, 180), label, fill="white")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


async def load_kiosk_demo(resources: Resources, console: Console) -> None:
    settings = resources.settings
    rng = random.Random(7)  # noqa: S311 - demo data, not secrets
    async with resources.sessionmaker.begin() as db:
        if await UserService(db).by_email("partner@iwm.local") is not None:
            console.print("demo data already loaded; nothing to do")
            _print_accounts(console)
            return
        users = {}
        for email, role, first, last in ACCOUNTS:
            users[email] = await UserService(db).create(
                email,
                {role},
                password_hash=resources.passwords.hash(DEMO_PASSWORD),
                first_name=first,
                last_name=last,
            )
    admin = principal_of(users["admin@iwm.local"])
    kiosks: list[tuple[Kiosk, str, Principal]] = []
    keys: list[tuple[str, str, str]] = []
    async with resources.sessionmaker.begin() as db:
        plan = [
            (
                "partner@iwm.local",
                "Tel Aviv Mall",
                "Asia/Jerusalem",
                ["Kiosk #1", "Kiosk #2"],
                "he",
            ),
            ("partner@iwm.local", "Paris Gare du Nord", "Europe/Paris", ["Kiosk #3"], "fr"),
            ("partner2@iwm.local", "Madrid Centro", "Europe/Madrid", ["Kiosk #4"], "es"),
        ]
        for owner, shop_name, tz, kiosk_names, lang in plan:
            shop = await ShopService(db).create(
                admin,
                ShopCreate(
                    partner_user_id=users[owner].id, name=shop_name, location=shop_name, timezone=tz
                ),
            )
            for name in kiosk_names:
                kiosk, key = await KioskService(db, settings).provision(
                    admin,
                    KioskCreate(
                        shop_id=shop.id,
                        name=name,
                        location=f"{shop_name}, hall A",
                        default_language=lang,
                    ),
                )
                kiosks.append((kiosk, key, principal_of(users[owner])))
                keys.append((name, str(kiosk.id), key))

    now = clock.now()
    with progress_bar() as progress:
        task = progress.add_task("orders", total=len(kiosks) * 12)
        for kiosk, kiosk_key, partner in kiosks:
            for i in range(12):
                name, email, phone = CUSTOMERS[(i + kiosks.index((kiosk, kiosk_key, partner))) % 5]
                async with resources.sessionmaker.begin() as db:
                    service = OrderService(db, settings, resources.storage)
                    order = await service.create(
                        kiosk,
                        NewOrderForm(
                            customer_name=name, customer_email=email, customer_phone=phone
                        ),
                        demo_photo(f"{kiosk.name} - {name}", rng.choice(COLOURS)),
                    )
                    # Spread orders over the last days; a few are fresh and unprinted.
                    age = (
                        timedelta(minutes=rng.randint(1, 150))
                        if i < FRESH_ORDERS_PER_KIOSK
                        else timedelta(hours=rng.randint(4, 24 * 20))
                    )
                    await db.execute(
                        update(Order).where(Order.id == order.id).values(created_at=now - age)
                    )
                    if i % 3 != 0:
                        await service.mark(partner, order.id, PrintStatus.PRINTED)
                progress.advance(task)

    async with resources.sessionmaker.begin() as db:
        broken, _broken_key, broken_owner = kiosks[1]
        await KioskService(db, settings).report_error(
            broken, ErrorReport(code="B2", message="Paper jam detected")
        )
        await CodeService(db, settings).issue(broken_owner, broken.id)
        await CodeService(db, settings).issue(kiosks[0][2], kiosks[0][0].id)
        await KioskService(db, settings).set_status(
            kiosks[2][2], kiosks[2][0].id, KioskStatus.INACTIVE
        )

    _print_accounts(console)
    console.print("kiosk device keys (shown once):")
    for name, kiosk_id, key in keys:
        console.print(f"  {name:<9} {kiosk_id}  {key}", soft_wrap=True)


def _print_accounts(console: Console) -> None:
    # On every run, so `make run` always says how to sign in.
    console.print(f"demo accounts (password [bold]{DEMO_PASSWORD}[/bold]):")
    for email, role, *_ in ACCOUNTS:
        console.print(f"  {role.value:<12} {email}")
