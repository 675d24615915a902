"""Loaded by every Python process the kiosk sessions benchmark starts for the server (its
folder is put first on their PYTHONPATH): times each garbage collection by generation, and
on SIGUSR1 writes the figures since the previous SIGUSR1 to `$IWM_BENCH_GC_DIR/<pid>.json`,
then starts counting afresh. SIGUSR2 starts a profile of the event loop's thread, and the
next SIGUSR2 writes it to `$IWM_BENCH_GC_DIR/<pid>.prof`."""

import cProfile
import gc
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType

_OUT = os.environ.get("IWM_BENCH_GC_DIR")
_began = [0.0]
_figures: dict[str, list[float]] = {"0": [], "1": [], "2": []}
_collected = {"0": 0, "1": 0, "2": 0}


def _callback(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _began[0] = time.perf_counter()
    else:
        _figures[str(info["generation"])].append((time.perf_counter() - _began[0]) * 1000)
        _collected[str(info["generation"])] += info["collected"]


def _dump(_signum: int, _frame: FrameType | None) -> None:
    summary = {
        "pauses_ms": {gen: sorted(p) for gen, p in _figures.items()},
        "collected": dict(_collected),
        "tracked": [len(gc.get_objects(generation=g)) for g in range(3)],
        "oldest_by_type": Counter(
            type(o).__qualname__ for o in gc.get_objects(generation=2)
        ).most_common(25),
        "frozen": gc.get_freeze_count(),
        "threshold": list(gc.get_threshold()),
    }
    # The cyclic garbage that was waiting for a collection: what rarer full collections
    # cost in memory (shallow sizes: a lower bound).
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    gc.set_debug(0)
    summary["garbage"] = [len(gc.garbage), sum(sys.getsizeof(o) for o in gc.garbage)]
    gc.garbage.clear()
    gc.collect()
    Path(_OUT or ".", f"{os.getpid()}.json").write_text(json.dumps(summary))
    for pauses in _figures.values():
        pauses.clear()
    for gen in _collected:
        _collected[gen] = 0


_profile: list[cProfile.Profile] = []


def _profile_toggle(_signum: int, _frame: FrameType | None) -> None:
    """SIGUSR2: profiles the main thread (the event loop) until the next SIGUSR2, which
    writes the profile to `$IWM_BENCH_GC_DIR/<pid>.prof`."""
    if not _profile:
        _profile.append(cProfile.Profile())
        _profile[0].enable()
    else:
        profile = _profile.pop()
        profile.disable()
        profile.dump_stats(Path(_OUT or ".", f"{os.getpid()}.prof"))


if _OUT:
    gc.callbacks.append(_callback)
    signal.signal(signal.SIGUSR1, _dump)
    signal.signal(signal.SIGUSR2, _profile_toggle)
