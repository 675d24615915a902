"""`iwm demo-data`: the kiosk network, then the admin's members, then the money side, then
two past months of growth (ranks, bonuses, returns), each made through the domain services
and each safe to run twice."""

from rich.console import Console

from iwm.core.config import Settings
from iwm.core.progress import OnProgress, silent
from iwm.core.resources import Resources
from iwm.demo.admin import load_admin_demo
from iwm.demo.growth import load_growth_demo
from iwm.demo.kiosks import load_kiosk_demo
from iwm.demo.money import load_money_demo
from iwm.projections import install as install_projections


async def load_demo_data(
    settings: Settings, console: Console, on_progress: OnProgress = silent
) -> None:
    install_projections()
    parts = [
        ("kiosks", load_kiosk_demo),
        ("admin", load_admin_demo),
        ("money", load_money_demo),
        ("growth", load_growth_demo),
    ]
    async with Resources.opened(settings) as resources:
        for done, (name, load) in enumerate(parts):
            on_progress(f"demo data: {name}", done, len(parts))
            await load(resources, console)
        on_progress("demo data", len(parts), len(parts))
