"""Every projection of the app, registered once by each entry point (the app, the `iwm`
command, the tests) before the first event is published. Order matters only for reading:
handlers of one event run in this order."""

from iwm.core.events import Projection, register
from iwm.modules.ledger.projections import BALANCES

PROJECTIONS: tuple[Projection, ...] = (BALANCES,)


def install() -> None:
    """Registers every projection (idempotent)."""
    register(*PROJECTIONS)
