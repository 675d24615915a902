"""`iwm demo-data`: the kiosk network, then the admin's members, then the money side, then
two past months of growth (ranks, bonuses, returns), each made through the domain services
and each safe to run twice."""

from rich.console import Console

from iwm.core.config import Settings
from iwm.core.resources import Resources
from iwm.demo.admin import load_admin_demo
from iwm.demo.growth import load_growth_demo
from iwm.demo.kiosks import load_kiosk_demo
from iwm.demo.money import load_money_demo
from iwm.projections import install as install_projections


async def load_demo_data(settings: Settings, console: Console) -> None:
    install_projections()
    async with Resources.opened(settings) as resources:
        await load_kiosk_demo(resources, console)
        await load_admin_demo(resources, console)
        await load_money_demo(resources, console)
        await load_growth_demo(resources, console)
