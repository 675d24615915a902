"""Every projection of the app, registered once by each entry point (the app, the `iwm`
command, the demo data, the tests) before the first event is published. The handlers of
one event run in this order."""

from iwm.core.events import Projection, register
from iwm.modules.analytics.projections import ROLLUPS
from iwm.modules.commissions.projections import COMMISSION_TOTALS
from iwm.modules.ledger.projections import BALANCES
from iwm.modules.network.projections import NETWORK_LEVELS
from iwm.modules.rounds.service import install as install_round_handlers
from iwm.modules.shop_orders.checkout import install as install_checkout_handlers
from iwm.modules.shop_orders.projections import SHOP_ORDER_TOTALS
from iwm.modules.strategies.investments import install as install_investment_handlers
from iwm.modules.strategies.projections import PARTICIPATION_RETURNS

PROJECTIONS: tuple[Projection, ...] = (
    BALANCES,
    NETWORK_LEVELS,
    COMMISSION_TOTALS,
    SHOP_ORDER_TOTALS,
    PARTICIPATION_RETURNS,
    ROLLUPS,
)


def install() -> None:
    """Registers every projection, and the owners' handlers of other modules' events
    (idempotent)."""
    register(*PROJECTIONS)
    install_round_handlers()
    install_checkout_handlers()
    install_investment_handlers()
