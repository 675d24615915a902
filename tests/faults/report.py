"""What each fault did to the load, as figures and as the table `make test-faults` prints."""

from collections import Counter
from dataclasses import dataclass, field

from tests.faults.load import NEEDS, Call

# Goals: errors end within this long of the part coming back; a request that needs a
# missing part is answered (503) within this long.
RECOVERY_GOAL = 2.0
ANSWER_GOAL = 2.0


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


@dataclass
class Outcome:
    name: str
    down_seconds: float
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    window: tuple[float, float] | None = None  # first and last error, seconds from the fault
    recovery: float = 0.0  # last error's end, seconds after the part came back (0: before)
    slowest_503: float = 0.0
    slowest_503_usual: float = 0.0  # that request kind's p99 before the fault
    slow_503s: int = 0
    # The kinds that need none of the missing parts: errors, p99 during the fault and before.
    spared: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    acked: tuple[int, int, int] = (0, 0, 0)  # orders, redeems, payouts
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self) -> list[str]:
        errors = " ".join(f"{k}x{v}" for k, v in sorted(self.errors.items())) or "none"
        window = f"+{self.window[0]:.1f}..+{self.window[1]:.1f}" if self.window else "-"
        spared = " ".join(
            f"{kind} {n}err p99 {during * 1000:.0f}ms ({before * 1000:.0f})"
            for kind, (n, during, before) in self.spared.items()
        )
        return [
            self.name,
            f"{self.down_seconds:.1f}",
            str(self.requests),
            errors,
            window,
            f"{self.recovery:.2f}",
            f"{self.slowest_503:.2f} ({self.slowest_503_usual:.2f})",
            spared or "-",
            "/".join(str(n) for n in self.acked),
            str(len(self.lost)),
            str(len(self.doubled)),
        ]


HEADER = [
    "fault",
    "down s",
    "requests",
    "errors by status",
    "error window s",
    "recovery s",
    "slowest 503 s (usual)",
    "spared kinds: errors, p99 during (before)",
    "acked o/r/p",
    "lost",
    "doubled",
]

RESULTS: list[Outcome] = []


def analyse(
    outcome: Outcome,
    calls: list[Call],
    fault_at: float,
    back_at: float,
    missing: set[str],
    baseline_from: float,
) -> None:
    """Fills the figures of `outcome` from the calls made around one fault."""
    # Requests in flight when the fault came count with it.
    during = [c for c in calls if c.ended >= fault_at]
    outcome.requests = len(during)
    failed = [c for c in during if c.failed]
    outcome.errors = Counter(c.outcome for c in failed)
    outcome.errors_by_kind = Counter(c.kind for c in failed)
    if failed:
        outcome.window = (
            min(c.started for c in failed) - fault_at,
            max(c.ended for c in failed) - fault_at,
        )
        outcome.recovery = max(0.0, max(c.ended for c in failed) - back_at)
    before = [c for c in calls if baseline_from <= c.started and c.ended < fault_at]
    after = [c for c in calls if c.started > back_at and not c.failed]
    # What each kind takes anyway: before the fault, or after it when none finished before
    # (a slow upload on a busy machine may not finish within the baseline).
    usual = {
        kind: p99([c.seconds for c in before if c.kind == kind])
        or p99([c.seconds for c in after if c.kind == kind])
        for kind in NEEDS
    }
    answered_503 = [c for c in failed if c.outcome == "503"]
    if answered_503:
        slowest = max(answered_503, key=lambda c: c.seconds)
        outcome.slowest_503, outcome.slowest_503_usual = slowest.seconds, usual[slowest.kind]
    # The missing part may add at most ANSWER_GOAL to what the request takes anyway (its
    # p99 before the fault): on a busy machine an upload's own work takes seconds too.
    outcome.slow_503s = sum(1 for c in answered_503 if c.seconds > ANSWER_GOAL + usual[c.kind])
    for kind, needs in NEEDS.items():
        if needs & missing or not missing:
            continue
        in_fault = [c for c in calls if fault_at <= c.started <= back_at and c.kind == kind]
        outcome.spared[kind] = (
            sum(1 for c in in_fault if c.failed),
            p99([c.seconds for c in in_fault if not c.failed]),
            p99([c.seconds for c in before if c.kind == kind]),
        )


def table(results: list[Outcome]) -> str:
    rows = [HEADER, *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    notes = [f"{r.name}: {note}" for r in results for note in r.notes]
    legend = (
        "error window: first and last failed request, seconds from the fault; recovery: "
        "last failure's end after the part was back; slowest 503 (usual): with that kind's "
        "p99 before the fault; spared kinds: requests that need none "
        "of the missing parts; acked o/r/p: orders, redeems, payouts acknowledged"
    )
    return "\n".join([*lines, "", legend, *notes])
