"""GET /api/v1/admin/partners, /partners/{id}, /partners/{id}/network."""

import random
import uuid
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.admin_views.service import PartnerViews
from iwm.modules.network.errors import AlreadyPartner, PartnerNotFound
from iwm.modules.network.models import NetworkPartner
from iwm.modules.network.service import CODE_ALPHABET, NetworkService
from iwm.modules.users.models import User
from tests.factories.admin import API, admin_headers, enroll, make_member
from tests.factories.kiosk_network import login, make_user

PARTNERS = f"{API}/partners"


class Tree:
    """root -> a, b; a -> a1, a2; a1 -> a1x; a1x -> a1xy (depth 4 below root)."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.partners: dict[str, NetworkPartner] = {}

    @classmethod
    async def build(cls, resources: Resources) -> "Tree":
        tree = cls()
        plan = [
            ("root", None),
            ("a", "root"),
            ("b", "root"),
            ("a1", "a"),
            ("a2", "a"),
            ("a1x", "a1"),
            ("a1xy", "a1x"),
        ]
        for name, parent in plan:
            clock.travel(timedelta(seconds=1))  # distinct join times, in plan order
            user = await make_member(
                resources,
                email=f"{name}@tree.example.com",
                first_name=name.upper(),
                last_name="Tree",
            )
            tree.users[name] = user
            tree.partners[name] = await enroll(
                resources, user, tree.partners[parent] if parent else None
            )
        async with resources.sessionmaker.begin() as db:
            service = NetworkService(db, resources.settings)
            await service.ensure_rank("SILVER", "Silver Partner", 2)
            await service.ensure_rank("GOLD", "Gold Partner", 3)
            await service.set_rank(tree.partners["a"].id, "GOLD")
            await service.set_rank(tree.partners["a"].id, "SILVER")
            await service.set_rank(tree.partners["b"].id, "SILVER")
        return tree

    def id(self, name: str) -> str:
        return str(self.partners[name].id)


async def test_list_shape_and_pagination(client: httpx.AsyncClient, resources: Resources) -> None:
    _, headers = await admin_headers(client, resources)
    tree = await Tree.build(resources)

    resp = await client.get(
        PARTNERS, params={"search": tree.partners["a"].referral_code}, headers=headers
    )

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    assert body["meta"]["pagination"]["total"] == 1
    assert body["data"]["partners"] == [
        {
            "id": tree.id("a"),
            "user": {
                "id": str(tree.users["a"].id),
                "email": "a@tree.example.com",
                "name": "A Tree",
            },
            "referralCode": tree.partners["a"].referral_code,
            "status": "ACTIVE",
            "rank": {"name": "Silver Partner", "code": "SILVER"},
            "sponsor": {"id": tree.id("root"), "name": "ROOT Tree"},
            "stats": {
                "directReferrals": 2,
                "networkSize": 4,
                "totalEarned": 0,
                "totalWithdrawn": 0,
                "availableBalance": 0,
                "pendingBalance": 0,
            },
            "joinedAt": body["data"]["partners"][0]["joinedAt"],
        }
    ]

    page = (await client.get(PARTNERS, params={"pageSize": 3, "page": 3}, headers=headers)).json()
    assert page["meta"]["pagination"] == {
        "total": 7,
        "page": 3,
        "pageSize": 3,
        "totalPages": 3,
        "hasNext": False,
        "hasPrevious": True,
    }
    assert len(page["data"]["partners"]) == 1


async def test_list_filters_and_sorting(client: httpx.AsyncClient, resources: Resources) -> None:
    _, headers = await admin_headers(client, resources)
    tree = await Tree.build(resources)
    names = {v: k for k, v in ((n, tree.id(n)) for n in tree.partners)}

    async def listed(**params: str) -> list[str]:
        r = await client.get(PARTNERS, params={"pageSize": 100, **params}, headers=headers)
        assert r.status_code == 200, r.text
        return [names[p["id"]] for p in r.json()["data"]["partners"]]

    assert await listed() == ["a1xy", "a1x", "a2", "a1", "b", "a", "root"]  # newest first
    assert await listed(sortBy="createdAt", sortOrder="asc") == [
        "root",
        "a",
        "b",
        "a1",
        "a2",
        "a1x",
        "a1xy",
    ]
    by_size = await listed(sortBy="networkSize", sortOrder="desc")
    assert by_size[:3] == ["root", "a", "a1"]
    assert set(by_size[3:]) == {"a1x", "b", "a2", "a1xy"}
    assert by_size[3] == "a1x"
    assert sorted(await listed(rank="SILVER")) == ["a", "b"]
    assert await listed(rank="GOLD") == []
    assert await listed(status="SUSPENDED") == []
    assert len(await listed(status="ALL")) == 7
    assert await listed(search="a1x tree") == ["a1x"]
    code = tree.partners["b"].referral_code
    assert await listed(search=code.lower()[2:7]) == ["b"]
    assert len(await listed(sortBy="totalEarned")) == 7

    for bad in ({"status": "GONE"}, {"sortBy": "name"}, {"pageSize": 101}, {"sortOrder": "x"}):
        r = await client.get(PARTNERS, params=bad, headers=headers)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_detail(client: httpx.AsyncClient, resources: Resources) -> None:
    _, headers = await admin_headers(client, resources)
    tree = await Tree.build(resources)

    resp = await client.get(f"{PARTNERS}/{tree.id('a')}", headers=headers)

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["user"] == {
        "id": str(tree.users["a"].id),
        "email": "a@tree.example.com",
        "name": "A Tree",
        "phone": None,
        "status": "ACTIVE",
    }
    assert data["referralCode"] == tree.partners["a"].referral_code
    assert data["rank"]["code"] == "SILVER"
    assert data["rank"]["level"] == 2
    assert data["highestRank"]["code"] == "GOLD"
    assert data["sponsor"] == {
        "id": tree.id("root"),
        "name": "ROOT Tree",
        "referralCode": tree.partners["root"].referral_code,
    }
    assert data["balance"] == {
        "available": 0,
        "pending": 0,
        "totalEarned": 0,
        "totalWithdrawn": 0,
        "careerPointsTotal": 0,
        "careerPointsPeriod": 0,
        "currency": resources.settings.currency,
    }
    assert data["stats"] == {
        "directReferrals": 2,
        "networkSize": 4,
        "treeDepth": 3,
        "activeReferrals": 2,
        "commissionsCount": 0,
        "payoutsCount": 0,
    }
    assert data["payoutDetails"] is None
    assert data["recentCommissions"] == []
    assert data["recentPayouts"] == []
    assert data["activatedAt"] is not None

    leaf = (await client.get(f"{PARTNERS}/{tree.id('a1xy')}", headers=headers)).json()["data"]
    assert leaf["stats"]["treeDepth"] == 0
    assert leaf["stats"]["networkSize"] == 0
    assert leaf["rank"] is None
    assert leaf["highestRank"] is None


async def test_network_levels_are_relative_to_the_partner(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin_headers(client, resources)
    tree = await Tree.build(resources)

    resp = await client.get(f"{PARTNERS}/{tree.id('a')}/network", headers=headers)

    assert resp.status_code == 200, resp.text
    body = resp.json()
    data = body["data"]
    assert data["partnerId"] == tree.id("a")
    assert data["partnerName"] == "A Tree"
    assert [(n["id"], n["level"]) for n in data["network"]] == [
        (tree.id("a1"), 1),
        (tree.id("a2"), 1),
        (tree.id("a1x"), 2),
        (tree.id("a1xy"), 3),
    ]
    first = data["network"][0]
    assert first == {
        "id": tree.id("a1"),
        "name": "A1 Tree",
        "email": "a1@tree.example.com",
        "referralCode": tree.partners["a1"].referral_code,
        "level": 1,
        "status": "ACTIVE",
        "rank": None,
        "directReferrals": 1,
        "totalVolume": 0,
        "joinedAt": first["joinedAt"],
    }
    assert data["stats"] == {
        "totalSize": 4,
        "byLevel": [
            {"level": 1, "count": 2, "volume": 0},
            {"level": 2, "count": 1, "volume": 0},
            {"level": 3, "count": 1, "volume": 0},
        ],
    }
    assert body["meta"]["pagination"]["total"] == 4

    shallow = (
        await client.get(
            f"{PARTNERS}/{tree.id('root')}/network", params={"depth": 2}, headers=headers
        )
    ).json()
    assert {(n["id"], n["level"]) for n in shallow["data"]["network"]} == {
        (tree.id("a"), 1),
        (tree.id("b"), 1),
        (tree.id("a1"), 2),
        (tree.id("a2"), 2),
    }
    assert shallow["data"]["stats"]["totalSize"] == 4

    paged = (
        await client.get(
            f"{PARTNERS}/{tree.id('root')}/network",
            params={"pageSize": 4, "page": 2},
            headers=headers,
        )
    ).json()
    assert [n["id"] for n in paged["data"]["network"]] == [tree.id("a1x"), tree.id("a1xy")]
    assert paged["meta"]["pagination"]["hasPrevious"] is True
    assert paged["meta"]["pagination"]["hasNext"] is False
    assert paged["data"]["stats"]["totalSize"] == 6

    leaf = (await client.get(f"{PARTNERS}/{tree.id('b')}/network", headers=headers)).json()
    assert leaf["data"]["network"] == []
    assert leaf["data"]["stats"] == {"totalSize": 0, "byLevel": []}

    for depth in (0, 11, "deep"):
        r = await client.get(
            f"{PARTNERS}/{tree.id('a')}/network", params={"depth": depth}, headers=headers
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_unknown_partner_is_404(client: httpx.AsyncClient, resources: Resources) -> None:
    _, headers = await admin_headers(client, resources)
    missing = uuid.uuid4()
    for path in (f"{PARTNERS}/{missing}", f"{PARTNERS}/{missing}/network"):
        r = await client.get(path, headers=headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "PARTNER_NOT_FOUND"


@pytest.mark.parametrize("role", [Role.USER, Role.PARTNER])
async def test_non_admins_get_403(
    client: httpx.AsyncClient, resources: Resources, role: Role
) -> None:
    headers = await login(client, await make_user(resources, role))
    partner = await enroll(resources, await make_member(resources))
    for path in (PARTNERS, f"{PARTNERS}/{partner.id}", f"{PARTNERS}/{partner.id}/network"):
        r = await client.get(path, headers=headers)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "FORBIDDEN"


async def test_random_trees_agree_with_a_naive_walk(resources: Resources) -> None:
    """The closure table against a plain parent-pointer walk, on random trees."""
    rng = random.Random(20240115)
    for size in (12, 30):
        parents: list[int | None] = [None] + [rng.randrange(i) for i in range(1, size)]
        async with resources.sessionmaker() as db:
            service = NetworkService(db, resources.settings)
            views = PartnerViews(db, resources.settings)
            partners: list[NetworkPartner] = []
            for i, parent in enumerate(parents):
                user = await _user(db, f"rnd{i}-{uuid.uuid4().hex[:6]}@example.com")
                partners.append(
                    await service.enroll(
                        user.id, partners[parent].id if parent is not None else None
                    )
                )
            for i, partner in enumerate(partners):
                levels = _naive_levels(parents, i)
                detail = await views.detail(partner.id)
                assert detail.stats.network_size == sum(levels.values())
                assert detail.stats.tree_depth == max(levels, default=0)
                assert detail.stats.direct_referrals == levels.get(1, 0)
                for depth in (1, 10):
                    view, total = await service.network(partner.id, depth, 1, 100)
                    expected = {lv: n for lv, n in levels.items() if lv <= depth}
                    assert {b.level: b.count for b in view.stats.by_level} == expected
                    assert total == sum(expected.values())
                    assert [n.level for n in view.network] == sorted(n.level for n in view.network)
            await db.rollback()


async def _user(db: AsyncSession, email: str) -> User:
    # No password (and so no costly hashing): these users never sign in.
    user = User(id=uuid.uuid4(), email=email, password_hash=None, role_rows=[])
    db.add(user)
    await db.flush()
    return user


def _naive_levels(parents: list[int | None], root: int) -> Counter[int]:
    levels: Counter[int] = Counter()
    for node in range(len(parents)):
        depth, cur = 0, node
        while cur is not None and cur != root:
            cur = parents[cur]
            depth += 1
        if cur == root and node != root:
            levels[depth] += 1
    return levels


async def test_enrolment_rules(resources: Resources) -> None:
    user = await make_member(resources)
    partner = await enroll(resources, user)
    assert len(partner.referral_code) == 8
    assert set(partner.referral_code) <= set(CODE_ALPHABET)
    with pytest.raises(AlreadyPartner):
        await enroll(resources, user)
    async with resources.sessionmaker() as db:
        with pytest.raises(PartnerNotFound):
            await NetworkService(db, resources.settings).enroll(
                (await make_member(resources)).id, uuid.uuid4()
            )


async def test_sales_volume_lands_on_each_uplines_level(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin_headers(client, resources)
    chain: list[NetworkPartner] = []
    for name in ("top", "mid", "low", "leaf"):
        user = await make_member(resources, email=f"{name}@vol.example.com")
        chain.append(await enroll(resources, user, chain[-1] if chain else None))
    top, mid, low, leaf = chain
    async with resources.sessionmaker.begin() as db:
        network = NetworkService(db, resources.settings)
        await network.book_sales_volume(leaf.id, 10_050)
        await network.book_sales_volume(low.id, 500)
        await network.book_sales_volume(leaf.id, -50)  # a refund

    data = (await client.get(f"{PARTNERS}/{top.id}/network", headers=headers)).json()["data"]
    assert data["stats"]["byLevel"] == [
        {"level": 1, "count": 1, "volume": 0},
        {"level": 2, "count": 1, "volume": 5},
        {"level": 3, "count": 1, "volume": 100},
    ]
    assert [n["totalVolume"] for n in data["network"]] == [0, 5, 100]
    below_mid = (await client.get(f"{PARTNERS}/{mid.id}/network", headers=headers)).json()
    assert below_mid["data"]["stats"]["byLevel"] == [
        {"level": 1, "count": 1, "volume": 5},
        {"level": 2, "count": 1, "volume": 100},
    ]
