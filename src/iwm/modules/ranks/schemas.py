"""The rank plan: ranks, what qualifies for each in a month, and the bonuses it pays."""

import hashlib
import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from iwm.core.schemas import CamelModel


class RankRule(CamelModel):
    """A rank and what a month needs for it: the partner's own sales volume, the volume of
    his whole group (himself and every level below) and directly sponsored ACTIVE partners
    with volume of their own in the month. `bonus` is paid once, the first time it is
    reached (RANK_BONUS)."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Z][A-Z0-9_]*$")
    name: str = Field(min_length=1, max_length=100)
    level: int = Field(ge=1, le=100)
    personal_volume: Decimal = Field(ge=0, decimal_places=2)
    group_volume: Decimal = Field(ge=0, decimal_places=2)
    active_directs: int = Field(ge=0)
    bonus: Decimal = Field(ge=0, decimal_places=2)


class RankPlan(CamelModel):
    """`version` names the plan in every rank history row and bonus it produces; a changed
    plan needs a new version (the first use of a version is kept, see `RankPlanRecord`)."""

    version: str = Field(min_length=1, max_length=32)
    # Percent of a directly sponsored partner's first paid shop order, to his sponsor (BONUS).
    fast_start_percent: Decimal = Field(ge=0, le=100, decimal_places=2)
    ranks: list[RankRule] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _ordered(self) -> "RankPlan":
        levels = [r.level for r in self.ranks]
        if levels != sorted(set(levels)):
            raise ValueError("ranks must be listed by strictly increasing level")
        if len({r.code for r in self.ranks}) != len(self.ranks):
            raise ValueError("rank codes must be unique")
        return self

    def canonical(self) -> str:
        """The plan as stored and compared (sorted keys, amounts as text)."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    def rank(self, code: str) -> RankRule | None:
        return next((r for r in self.ranks if r.code == code), None)


def _rule(code: str, name: str, level: int, pv: str, gv: str, directs: int, bonus: str) -> RankRule:
    return RankRule(
        code=code,
        name=name,
        level=level,
        personal_volume=Decimal(pv),
        group_volume=Decimal(gv),
        active_directs=directs,
        bonus=Decimal(bonus),
    )


# The fast-start bonus costs money on every new partner's first order: off until the
# operator gives it a rate in his plan (the demo data's plan pays 5 %).
DEFAULT_PLAN = RankPlan(
    version="2026.1",
    fast_start_percent=Decimal("0"),
    ranks=[
        _rule("BRONZE", "Bronze Partner", 1, "100", "0", 0, "25"),
        _rule("SILVER", "Silver Partner", 2, "200", "1000", 2, "100"),
        _rule("GOLD", "Gold Partner", 3, "300", "5000", 3, "500"),
        _rule("PLATINUM", "Platinum Partner", 4, "500", "20000", 5, "2000"),
        _rule("DIAMOND", "Diamond Partner", 5, "1000", "100000", 8, "10000"),
    ],
)


@lru_cache(maxsize=8)
def load_plan(path: str | None) -> RankPlan:
    """The configured plan (IWM_RANK_PLAN_FILE), or the built-in one."""
    if path is None:
        return DEFAULT_PLAN
    return RankPlan.model_validate_json(Path(path).read_text(encoding="utf-8"))


class QualificationReport(CamelModel):
    period: str
    plan_version: str
    already_done: bool
    partners: int  # ACTIVE partners judged
    promoted: int
    demoted: int
    rank_bonuses: int
