"""The jobs `iwm serve` runs: the daily cleanup, the monthly rank qualification and
investment returns (checked daily), and at every wake-up the booking of paid sales'
commissions left waiting, the expiry of unpaid shop orders and investments, the kiosk
rounds' refunds and the reconciliation of payouts left in PROCESSING (safe in every
process at once: the provider pays an idempotency key once, and the outcome is recorded
under the payout's lock only while it is still PROCESSING)."""

from typing import Any

import structlog

from iwm.core.resources import Resources
from iwm.modules.cleanup.service import CleanupService
from iwm.modules.commissions.engine import book_pending_sales, qualify_ranks
from iwm.modules.payments.provider import make_provider
from iwm.modules.payouts.service import reconcile_payouts
from iwm.modules.rounds.service import RoundService
from iwm.modules.scheduler.service import DailyJob, Job, RecurringJob
from iwm.modules.shop_orders.service import ShopOrderService
from iwm.modules.strategies.service import ParticipationService, distribute_returns

log = structlog.get_logger()


async def _cleanup(resources: Resources) -> dict[str, Any]:
    return (await CleanupService(resources).run()).as_dict()


async def _reconcile_payouts(resources: Resources) -> None:
    counts = await reconcile_payouts(resources)
    if any(counts.values()):
        log.info("payouts.reconciled", **counts)


async def _book_pending_sales(resources: Resources) -> None:
    # Normally booked right after each payment's commit; this finds what a crash or a
    # failure in between left waiting.
    booked = await book_pending_sales(resources)
    if booked:
        log.info("commissions.pending_booked", sales=booked)


async def _qualify_ranks(resources: Resources) -> dict[str, Any]:
    # Daily, for the month before: the first run of a month qualifies it, the others find
    # it done (its `rank_periods` row) and change nothing.
    return (await qualify_ranks(resources)).model_dump(mode="json", by_alias=True)


async def _refund_unstarted_rounds(resources: Resources) -> None:
    provider = make_provider(resources.settings, resources.payment_webhook_secret)
    refunded = await RoundService.refund_unstarted(
        resources.sessionmaker, resources.settings, provider
    )
    if refunded:
        log.info("kiosk_sessions.refunded", sessions=refunded)


async def _expire_unpaid_orders(resources: Resources) -> None:
    expired = await ShopOrderService.expire_unpaid(resources.sessionmaker, resources.settings)
    investments = await ParticipationService.expire_unpaid(
        resources.sessionmaker, resources.settings
    )
    if expired or investments:
        log.info("payments.unpaid_expired", orders=expired, investments=investments)


async def _distribute_returns(resources: Resources) -> dict[str, Any]:
    # Daily, for the month before: the first run credits it, the others find every
    # participation's month credited (its unique key) and credit nothing.
    report = await distribute_returns(resources)
    return {
        "period": report.period,
        "credited": report.credited,
        "amountMinor": report.amount_minor,
        "alreadyDone": report.already_done,
    }


CLEANUP = DailyJob(
    "cleanup",
    hour_utc=lambda settings: settings.cleanup_hour_utc,
    run=_cleanup,
    failure_event="cleanup.failed",
)
PAYOUT_RECONCILIATION = RecurringJob(
    "payout-reconciliation", run=_reconcile_payouts, failure_event="payouts.reconcile_failed"
)
SALES_BOOKING = RecurringJob(
    "pending-sales-booking", run=_book_pending_sales, failure_event="commissions.booking_failed"
)
RANK_QUALIFICATION = DailyJob(
    "rank-qualification",
    hour_utc=lambda settings: settings.cleanup_hour_utc,
    run=_qualify_ranks,
    failure_event="ranks.qualify_failed",
)
ROUND_REFUNDS = RecurringJob(
    "kiosk-round-refunds",
    run=_refund_unstarted_rounds,
    failure_event="kiosk_sessions.refund_failed",
)
RETURNS_DISTRIBUTION = DailyJob(
    "returns-distribution",
    hour_utc=lambda settings: settings.cleanup_hour_utc,
    run=_distribute_returns,
    failure_event="returns.distribute_failed",
)
ORDER_EXPIRY = RecurringJob(
    "order-payment-expiry",
    run=_expire_unpaid_orders,
    failure_event="shop_orders.expire_failed",
)
JOBS: tuple[Job, ...] = (
    CLEANUP,
    PAYOUT_RECONCILIATION,
    # Before the ranks: a month's volumes include every sale paid in it.
    SALES_BOOKING,
    RANK_QUALIFICATION,
    RETURNS_DISTRIBUTION,
    ROUND_REFUNDS,
    ORDER_EXPIRY,
)
