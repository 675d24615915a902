from collections.abc import AsyncIterator

import httpx
import pytest

from iwm.core.config import Settings
from tests.factories.accounts import MemberApp, member_app


@pytest.fixture
async def app(
    settings: Settings, client: httpx.AsyncClient, is_production: bool
) -> AsyncIterator[MemberApp]:
    """The member API; mail through SMTP on loopback in the production profile."""
    async with member_app(settings, smtp=is_production) as member:
        yield member
