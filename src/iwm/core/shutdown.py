"""A graceful stop that kept-alive clients can see coming.

On SIGTERM uvicorn closes idle kept-alive connections at once: a client sending its next
request at that moment has it cut off (a reset or an empty reply). While the app runs under
a server that handles SIGTERM, the signal first starts a drain: for `shutdown_drain_seconds`
every answer says `Connection: close` (see `middleware.Draining`), so clients move to a new
connection (another worker, another server) on their own; then the server's own graceful
shutdown runs, giving requests under way up to the request deadline to finish. A second
SIGTERM stops at once."""

import asyncio
import contextvars
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from types import FrameType

import structlog

from iwm.core.middleware import Draining

log = structlog.get_logger()


@contextmanager
def drain_before_stopping(seconds: float) -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    # Only under a server that stops on SIGTERM by a handler of its own (uvicorn), and only
    # where signals can be handled (the main thread).
    if (
        seconds <= 0
        or not callable(previous)
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    loop = asyncio.get_running_loop()

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if Draining.now:
            previous(sig, frame)
            return
        Draining.now = True
        # Logged from the loop, not here: a signal handler can run inside the write of
        # another log line (a write interrupted by the signal), and two lines ran together.
        loop.call_soon_threadsafe(
            partial(log.info, "server.draining", seconds=seconds),
            # Not the context the signal interrupted (a request's id).
            context=contextvars.Context(),
        )
        loop.call_soon_threadsafe(loop.call_later, seconds, previous, sig, None)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, previous)
