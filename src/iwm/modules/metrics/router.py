"""GET /metrics in the Prometheus text format."""

from fastapi import APIRouter
from fastapi.responses import Response

from iwm.core.deps import ResourcesDep
from iwm.core.metrics import render
from iwm.modules.metrics.service import database_figures

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(resources: ResourcesDep) -> Response:
    """Prometheus metrics of every worker of this server (restrict it at the proxy)."""
    body, content_type = render(await database_figures(resources.read_sessionmaker))
    return Response(body, media_type=content_type)
