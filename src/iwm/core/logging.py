"""structlog: JSON lines in production, readable console output in development.

Tracebacks never show local variables, in either form: a frame's locals hold request
bodies (passwords), settings and connection objects. The standard library's loggers
(uvicorn, SQLAlchemy, ...) go through the same renderer, so a production log is JSON
lines only.
"""

import logging
import sys
import threading

import structlog

_HANDLER_NAME = "iwm"


class _LineWriter:
    """Writes each line to stdout in one write. structlog's PrintLogger prints the text
    and its newline apart, which unbuffered (PYTHONUNBUFFERED, as containers often set)
    are two writes: with several worker processes on one stdout, two JSON lines ran
    together. One write of a line up to the pipe's atomic size is never interleaved."""

    _lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            # The current stdout, not the one at import (a test runner swaps it).
            sys.stdout.write(message + "\n")
            sys.stdout.flush()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


_LINE_WRITER = _LineWriter()


def _line_writer(*_args: object) -> _LineWriter:
    return _LINE_WRITER


class _DropServerReRaise(logging.Filter):
    """Starlette re-raises a crash after the 500 handler answered and logged it (as
    `request.crashed`); uvicorn would log the same traceback a second time."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name == "uvicorn.error"
            and str(record.msg).startswith("Exception in ASGI application")
        )


def configure_logging(json: bool, level: str = "INFO") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
        )
    )
    # The plain traceback text for JSON (no locals); the console renderer formats it itself.
    exc_step: structlog.typing.Processor = (
        structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, exc_step, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_line_writer,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared, exc_step],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    handler.addFilter(_DropServerReRaise())
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replaces only its own earlier handler: others (a test runner's) stay.
    root.handlers = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(numeric_level)
    # Library warnings (Pillow's decompression bomb warning) through the same renderer, so
    # that a production log stays one JSON object per line.
    logging.captureWarnings(True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers (when it configured any) give way to the root's.
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
