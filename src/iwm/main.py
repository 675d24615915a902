"""create_app(): resources, middleware, routers and error handlers."""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from iwm.core.config import Settings, check_production, get_settings
from iwm.core.deadline import DeadlineMiddleware
from iwm.core.docs import install_docs
from iwm.core.errors import install_error_handlers
from iwm.core.logging import configure_logging
from iwm.core.middleware import (
    AllowedHostsMiddleware,
    BodyLimitMiddleware,
    ExactNumbersMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
    photo_origins,
)
from iwm.core.openapi import install_openapi, operation_id
from iwm.core.resources import Resources
from iwm.core.shutdown import drain_before_stopping
from iwm.core.tracing import install_tracing
from iwm.modules.accounts.router import router as me_router
from iwm.modules.admin_views.router import audit_router as admin_audit_router
from iwm.modules.admin_views.router import partners_router as admin_partner_views_router
from iwm.modules.admin_views.router import users_router as admin_user_views_router
from iwm.modules.analytics.router import router as admin_analytics_router
from iwm.modules.auth.router import close_router as me_close_router
from iwm.modules.auth.router import router as auth_router
from iwm.modules.categories.router import router as admin_categories_router
from iwm.modules.codes.router import device_router as kiosk_codes_router
from iwm.modules.codes.router import partner_router as partner_codes_router
from iwm.modules.commissions.member_router import router as member_commissions_router
from iwm.modules.commissions.router import router as admin_commissions_router
from iwm.modules.health.router import router as health_router
from iwm.modules.kiosks.device_router import router as kiosk_device_router
from iwm.modules.kiosks.heartbeat import HeartbeatFastPath
from iwm.modules.kiosks.liveness import heartbeat_buffer
from iwm.modules.kiosks.router import router as partner_kiosks_router
from iwm.modules.kyc.member_router import router as member_kyc_router
from iwm.modules.kyc.router import router as admin_kyc_router
from iwm.modules.media.router import router as media_router
from iwm.modules.metrics.router import router as metrics_router
from iwm.modules.network.member_router import router as member_network_router
from iwm.modules.network.router import router as admin_partners_router
from iwm.modules.orders.device_router import router as kiosk_orders_router
from iwm.modules.orders.router import router as partner_orders_router
from iwm.modules.payments.router import router as payments_router
from iwm.modules.payouts.member_router import router as member_payouts_router
from iwm.modules.payouts.router import router as admin_payouts_router
from iwm.modules.products.member_router import router as member_products_router
from iwm.modules.provisioning.router import router as provisioning_router
from iwm.modules.rounds.device_router import router as kiosk_sessions_router
from iwm.modules.rounds.router import router as partner_revenue_router
from iwm.modules.scheduler.jobs import JOBS
from iwm.modules.scheduler.service import Scheduler
from iwm.modules.shop_orders.member_router import router as member_orders_router
from iwm.modules.shop_orders.products_router import router as admin_products_router
from iwm.modules.shop_orders.router import router as admin_shop_orders_router
from iwm.modules.strategies.investments_router import router as member_investments_router
from iwm.modules.strategies.member_router import router as member_strategies_router
from iwm.modules.strategies.router import router as admin_strategies_router
from iwm.modules.users.router import router as admin_users_router
from iwm.projections import install as install_projections
from iwm.web.deps import STATIC_DIR
from iwm.web.router import router as dashboard_router

log = structlog.get_logger()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    check_production(settings)
    configure_logging(settings.json_logs, settings.log_level)
    resources = Resources.build(settings, heartbeat_buffer)
    install_projections()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler = Scheduler(resources, JOBS) if settings.scheduler_enabled else None
        if scheduler is not None:
            scheduler.start()
        # What is loaded by now (modules, the app, its routes and models) lives as long as
        # the process: moved out of the collector's reach, it is no longer walked by every
        # full collection, which otherwise stalls all requests for tens of milliseconds.
        gc.collect()
        gc.freeze()
        # A full collection still walks every object of the requests in flight: a thousand
        # waiting long polls are some 250,000 objects, 100 ms of a stalled event loop on a
        # quiet machine. Python's default (10) ran one every 20 to 30 s under load; 1000
        # makes it one every 15 to 30 minutes. It frees little: the cycles that live long
        # enough to reach the oldest generation were some 200 objects per full collection
        # (docs/decisions.md, with the memory measured).
        gc.set_threshold(700, 10, 1000)
        try:
            with drain_before_stopping(settings.shutdown_drain_seconds):
                yield
        finally:
            if scheduler is not None:
                await scheduler.stop()
            await resources.close()
            if stop_tracing is not None:
                # The spans still in the batch leave now (within the exporter's timeout).
                await asyncio.to_thread(stop_tracing)

    app = FastAPI(
        title="IWM platform API",
        version="0.1.0",
        description="Partner dashboard, kiosk device and admin API of the IWM kiosk network.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Served by install_docs from the package's own files, not FastAPI's CDN pages.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_on else None,
    )
    app.state.resources = resources
    install_error_handlers(app)
    stop_tracing = install_tracing(app, settings)

    # Innermost first. Money in JSON bodies is written exactly (see core/money.py).
    app.add_middleware(ExactNumbersMiddleware)
    # Accepted heartbeats (no body) are answered before the body limit;
    # everything runs inside the request id middleware.
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        # A photo (or every KYC document) at the limit, with room for the form around it:
        # a file just past the limit still gets the upload's own, more precise error.
        uploads={
            "/kiosk/": settings.max_upload_bytes + settings.max_body_bytes,
            "/api/v1/me/kyc": settings.kyc_upload_limit_bytes,
        },
    )
    app.add_middleware(HeartbeatFastPath, heartbeats=resources.heartbeats)
    app.add_middleware(AllowedHostsMiddleware, allowed=settings.hosts_allowed)
    app.add_middleware(SecurityHeadersMiddleware, img_sources=photo_origins(settings))
    if settings.forwarded_allow_ips:
        # The client's address and scheme as the trusted proxy saw them, for everything
        # inside: login limits, audit rows, Secure cookies, redirects.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    app.add_middleware(DeadlineMiddleware, seconds=settings.request_timeout_seconds)
    app.add_middleware(RequestIdMiddleware)

    install_docs(app, settings)
    install_openapi(app)
    # Before the routers: the dashboard's catch-all page must not shadow its static files.
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")

    for router in (
        # A request is matched against each router's routes in turn (some twenty function
        # calls per route passed over): the most frequent first, after the three one-route
        # routers (health checks, scrapes, photos), the admin's last. The payment webhook
        # and the members' orders lead: each checkout makes both, and the webhook's answer
        # is waited for by the provider.
        health_router,
        metrics_router,
        media_router,
        payments_router,
        member_orders_router,
        partner_orders_router,
        partner_kiosks_router,
        member_network_router,
        member_commissions_router,
        me_router,
        member_payouts_router,
        member_kyc_router,
        me_close_router,
        auth_router,
        partner_codes_router,
        kiosk_device_router,
        kiosk_codes_router,
        kiosk_orders_router,
        kiosk_sessions_router,
        partner_revenue_router,
        provisioning_router,
        admin_categories_router,
        admin_products_router,
        admin_shop_orders_router,
        admin_strategies_router,
        admin_commissions_router,
        admin_payouts_router,
        admin_user_views_router,
        admin_users_router,
        admin_kyc_router,
        member_products_router,
        member_strategies_router,
        member_investments_router,
        admin_partners_router,
        admin_partner_views_router,
        admin_audit_router,
        admin_analytics_router,
        dashboard_router,
    ):
        app.include_router(router)
    return app
