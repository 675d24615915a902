"""Monthly rank qualification. Never commits: the caller's transaction does.

A month is qualified once: its `rank_periods` row is inserted first, so a second run (at
the same time in another process, or later) finds it and changes nothing. Every ACTIVE
partner is judged on the month's figures: his personal volume, his group volume (himself
and every level below, from the closure table) and his active directs (directly sponsored
ACTIVE partners with volume of their own in the month). His rank becomes the highest whose
three thresholds he meets (or none: the rank is the month's, the highest rank reached
stays); each change is a history row.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import ValidationFailed
from iwm.core.money import to_minor
from iwm.core.progress import OnProgress, silent
from iwm.core.upsert import insert
from iwm.modules.audit.service import AuditService
from iwm.modules.network.models import (
    NetworkPartner,
    NetworkTreeEdge,
    PartnerPeriodVolume,
    PartnerRank,
    PartnerStatus,
)
from iwm.modules.network.service import NetworkService
from iwm.modules.ranks.errors import RankPlanChanged
from iwm.modules.ranks.models import RankChange, RankPeriod, RankPlanRecord
from iwm.modules.ranks.schemas import QualificationReport, RankPlan, RankRule, load_plan

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_period(period: str, *, allow_open: bool = False) -> str:
    """`YYYY-MM`, a month that has ended (400 on `period` otherwise); `allow_open` lets the
    current month through (the demo data)."""
    if not PERIOD.match(period):
        raise ValidationFailed(details={"period": ["expected YYYY-MM"]})
    current = clock.now().strftime("%Y-%m")
    if period > current or (period == current and not allow_open):
        raise ValidationFailed(details={"period": ["the month has not ended yet"]})
    return period


def previous_period(moment: datetime) -> str:
    """The month before `moment`'s, as `YYYY-MM`."""
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    return f"{year:04d}-{month:02d}"


@dataclass(frozen=True, slots=True)
class Promotion:
    """A partner who reached ranks he never held: a RANK_BONUS is due for each of `ranks`."""

    partner_id: uuid.UUID
    change_id: uuid.UUID
    ranks: tuple[RankRule, ...]


@dataclass(frozen=True, slots=True)
class Figures:
    personal: int = 0
    group: int = 0
    directs: int = 0


def qualifies(rule: RankRule, figures: Figures) -> bool:
    return (
        figures.personal >= to_minor(rule.personal_volume)
        and figures.group >= to_minor(rule.group_volume)
        and figures.directs >= rule.active_directs
    )


class RankService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._network = NetworkService(session, settings)

    def plan(self) -> RankPlan:
        return load_plan(self._settings.rank_plan_file)

    async def register(self, plan: RankPlan) -> None:
        """Records the plan version on first use and makes sure its ranks exist; the same
        version with other rules is RANK_PLAN_CHANGED (409)."""
        known = await self._db.get(RankPlanRecord, plan.version)
        if known is None:
            await self._db.execute(
                insert(self._db, RankPlanRecord)
                .values(
                    version=plan.version,
                    digest=plan.digest,
                    body=plan.model_dump(mode="json", by_alias=True),
                    registered_at=clock.now(),
                )
                .on_conflict_do_nothing(index_elements=["version"])
            )
            known = await self._db.get(RankPlanRecord, plan.version)
        if known is None or known.digest != plan.digest:
            raise RankPlanChanged(details={"version": [plan.version]})
        for rule in plan.ranks:
            await self._network.ensure_rank(rule.code, rule.name, rule.level)

    async def qualify(
        self, period: str, *, allow_open: bool = False, on_progress: OnProgress = silent
    ) -> tuple[QualificationReport, list[Promotion]]:
        """Qualifies `period` once (see the module's docstring); the partners whose rank
        changes are locked in id order. Returns who reached ranks never held before."""
        period = parse_period(period, allow_open=allow_open)
        plan = self.plan()
        await self.register(plan)
        claimed = await self._db.scalar(
            insert(self._db, RankPeriod)
            .values(
                period=period,
                plan_version=plan.version,
                qualified_at=clock.now(),
                partners=0,
                promoted=0,
                demoted=0,
            )
            .on_conflict_do_nothing(index_elements=["period"])
            .returning(RankPeriod.period)
        )
        if claimed is None:
            report = QualificationReport(
                period=period,
                plan_version=plan.version,
                already_done=True,
                partners=0,
                promoted=0,
                demoted=0,
                rank_bonuses=0,
            )
            return report, []
        on_progress("ranks: volumes", 0, 1)
        figures = await self._figures(period)
        levels = {r.code: r.level for r in plan.ranks}
        codes = {rank.id: rank.code for rank in await self._db.scalars(select(PartnerRank))}
        partners = (
            await self._db.execute(
                select(NetworkPartner.id, NetworkPartner.rank_id, NetworkPartner.highest_rank_id)
                .where(NetworkPartner.status == PartnerStatus.ACTIVE)
                .order_by(NetworkPartner.id)
            )
        ).all()
        changes: list[tuple[uuid.UUID, str | None, RankRule | None, int, Figures]] = []
        for (
            partner_id,
            rank_id,
            highest_id,
        ) in partners:
            got = figures.get(partner_id, Figures())
            new = next((r for r in reversed(plan.ranks) if qualifies(r, got)), None)
            old = codes.get(rank_id) if rank_id else None
            if (new.code if new else None) == old:
                continue
            highest = levels.get(codes.get(highest_id, ""), 0) if highest_id else 0
            changes.append((partner_id, old, new, highest, got))
        await self._network.lock_partners({c[0] for c in changes})
        promotions: list[Promotion] = []
        promoted = demoted = 0
        for done, (partner_id, old, new, highest, got) in enumerate(changes):
            on_progress("ranks", done, len(changes))
            await self._network.set_rank(partner_id, new.code if new else None)
            change = RankChange(
                id=uuid.uuid4(),
                partner_id=partner_id,
                period=period,
                previous_rank=old,
                rank=new.code if new else None,
                plan_version=plan.version,
                personal_volume_minor=got.personal,
                group_volume_minor=got.group,
                active_directs=got.directs,
            )
            self._db.add(change)
            if new is not None and new.level > levels.get(old or "", 0):
                promoted += 1
            else:
                demoted += 1
            if new is not None and new.level > highest:
                reached = tuple(r for r in plan.ranks if highest < r.level <= new.level)
                promotions.append(Promotion(partner_id, change.id, reached))
        run = await self._db.get_one(RankPeriod, period)
        run.partners, run.promoted, run.demoted = len(partners), promoted, demoted
        await self._db.flush()
        report = QualificationReport(
            period=period,
            plan_version=plan.version,
            already_done=False,
            partners=len(partners),
            promoted=promoted,
            demoted=demoted,
            rank_bonuses=sum(len(p.ranks) for p in promotions),
        )
        AuditService(self._db).record_by(
            None,
            "RANKS_QUALIFIED",
            "rank_period",
            period,
            new=report.model_dump(mode="json", by_alias=True),
        )
        return report, promotions

    async def _figures(self, period: str) -> dict[uuid.UUID, Figures]:
        """Personal and group volume and active directs of every partner with any."""
        vol = PartnerPeriodVolume
        personal = dict(
            (
                await self._db.execute(
                    select(vol.partner_id, vol.volume_minor).where(vol.period == period)
                )
            ).all()
        )
        group = dict(
            (
                await self._db.execute(
                    select(NetworkTreeEdge.ancestor_id, func.sum(vol.volume_minor))
                    .join(vol, vol.partner_id == NetworkTreeEdge.descendant_id)
                    .where(vol.period == period)
                    .group_by(NetworkTreeEdge.ancestor_id)
                )
            ).all()
        )
        directs = dict(
            (
                await self._db.execute(
                    select(NetworkPartner.sponsor_id, func.count())
                    .join(vol, vol.partner_id == NetworkPartner.id)
                    .where(
                        vol.period == period,
                        vol.volume_minor > 0,
                        NetworkPartner.status == PartnerStatus.ACTIVE,
                        NetworkPartner.sponsor_id.is_not(None),
                    )
                    .group_by(NetworkPartner.sponsor_id)
                )
            ).all()
        )
        ids = set(personal) | set(group) | set(directs)
        return {
            i: Figures(int(personal.get(i, 0)), int(group.get(i) or 0), int(directs.get(i, 0)))
            for i in ids
            if i is not None
        }

    async def history(self, partner_id: uuid.UUID) -> list[RankChange]:
        rows = await self._db.scalars(
            select(RankChange)
            .where(RankChange.partner_id == partner_id)
            .order_by(RankChange.period, RankChange.created_at)
        )
        return list(rows)
