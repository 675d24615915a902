"""Password hashing cost from the settings, and the run's Redis keys under its prefix."""

import httpx
import pytest
from pydantic import ValidationError

from iwm.core.config import Settings
from iwm.core.resources import Resources
from iwm.core.security import PasswordHasher, hash_password, token_hash
from tests.factories.kiosk_network import PASSWORD, make_user

RECOMMENDED = "$argon2id$v=19$m=65536,t=3,p=4$"  # RFC 9106, second recommended option


def test_production_keeps_the_recommended_cost() -> None:
    settings = Settings(_env_file=None)
    assert PasswordHasher.from_settings(settings).hash("x").startswith(RECOMMENDED)
    assert hash_password("x").startswith(RECOMMENDED)


def test_the_test_profiles_hash_cheaply(resources: Resources) -> None:
    assert resources.passwords.hash("x").startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_hashes_of_any_cost_verify() -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    recommended = PasswordHasher()
    assert recommended.verify(cheap.hash("secret-pass"), "secret-pass")
    assert cheap.verify(recommended.hash("secret-pass"), "secret-pass")
    assert not cheap.verify(recommended.hash("secret-pass"), "other-pass")
    assert not cheap.verify(None, "secret-pass")  # no such account
    assert not cheap.verify("not-a-hash", "secret-pass")


def test_memory_too_small_for_the_lanes_is_refused_at_startup() -> None:
    with pytest.raises(ValidationError, match="IWM_PASSWORD_HASH_MEMORY_COST"):
        Settings(_env_file=None, password_hash_memory_cost=16, password_hash_parallelism=4)


async def test_sessions_and_rate_limits_live_under_the_prefix(
    client: httpx.AsyncClient, resources: Resources, is_production: bool
) -> None:
    if not is_production:
        pytest.skip("the embedded profile writes no Redis keys")
    prefix = resources.settings.redis_prefix
    assert prefix != "iwm"  # each run has its own
    user = await make_user(resources)
    resp = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200
    # Only failures are counted in the login limits.
    await client.post("/auth/login", json={"email": user.email, "password": "wrong"})
    hashed = token_hash(resp.json()["token"])
    redis = resources.redis
    assert redis is not None
    assert [k async for k in redis.scan_iter(match=f"*{hashed}*")] == [
        f"{prefix}:session:{hashed}".encode()
    ]
    assert await redis.exists(f"{prefix}:user-sessions:{user.id}")
    limits = [k async for k in redis.scan_iter(match=f"*{user.email}*")]
    assert limits
    assert all(k.startswith(f"{prefix}:limits:".encode()) for k in limits)
