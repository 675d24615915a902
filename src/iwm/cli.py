"""The `iwm` command line: thin wrappers around the services."""

import asyncio
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import structlog
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from iwm.core.config import (
    ConfigError,
    check_production,
    get_settings,
    mask_url_password,
    settings_problems,
)
from iwm.core.logging import configure_logging
from iwm.core.principal import Role


class _Cli(typer.Typer):
    """A failure is one line naming what to fix; its traceback only with `--debug` (in any
    position on the command line)."""

    debug = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "--debug" in sys.argv[1:]:
            sys.argv.remove("--debug")
            _Cli.debug = True
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if _Cli.debug:
                raise
            typer.echo(f"iwm: error: {_explain(exc)} (--debug shows the traceback)", err=True)
            sys.exit(1)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (
        f"{type(exc).__name__}: {mask_url_password(text[0])[:200]}" if text else type(exc).__name__
    )


def _explain(exc: BaseException) -> str:
    """The failure as one line: which part, and what to check."""
    import botocore.exceptions  # noqa: PLC0415
    import redis.exceptions  # noqa: PLC0415

    from iwm.core.errors import is_outage  # noqa: PLC0415

    cause = _first_line(exc)
    if isinstance(exc, redis.exceptions.RedisError):
        return f"cannot reach Redis ({cause}): is it running? check IWM_REDIS_URL"
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return f"cannot reach the photo storage ({cause}): check IWM_S3_ENDPOINT_URL"
    if isinstance(exc, OSError) and exc.filename is not None:
        # A file or folder of this machine (the photo folder, the SQLite file's folder),
        # not the database server.
        return (
            f"cannot use {exc.filename} ({cause}): check that it exists and that this user "
            "may write there (IWM_STORAGE_URL names the photo folder)"
        )
    if is_outage(exc) or isinstance(exc, OSError):
        return (
            f"cannot reach the database at {_database_host()} ({cause}): "
            "is it running? check IWM_DATABASE_URL"
        )
    return cause


def _database_host() -> str:
    parts = urlsplit(get_settings().database_url.get_secret_value())
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


app = _Cli(
    help="IWM platform backend.",
    no_args_is_help=True,
    add_completion=False,
    # A crash shows no local variables: they hold passwords and settings.
    pretty_exceptions_show_locals=False,
)
console = Console()
T = TypeVar("T")
MIN_PASSWORD_LENGTH = 8
SHOWN_DIFFERENCES = 10
"""Rows of drift printed per projection by `rebuild-projections --check`."""


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415

        typer.echo(f"iwm {version('iwm')}")
        raise typer.Exit


# Every command starts from valid settings: else one line per variable, and exit code 2.
@app.callback()
def _checked_settings(
    debug: Annotated[
        bool, typer.Option("--debug", help="On a failure, show the full traceback")
    ] = False,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the installed version and exit.",
            is_eager=True,
            callback=_show_version,
        ),
    ] = False,
) -> None:
    _Cli.debug = _Cli.debug or debug
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        check_production(get_settings())
    except ValidationError as exc:
        _refuse(settings_problems(exc))
    except ConfigError as exc:
        _refuse(str(exc).splitlines())
    if problems := _rank_plan_problems(get_settings().rank_plan_file):
        _refuse(problems)


def _rank_plan_problems(path: str | None) -> list[str]:
    """The configured rank plan file, read and validated before anything runs: a plan the
    engine cannot read would otherwise stop every commission booking, silently."""
    if path is None:
        return []
    from pydantic import ValidationError  # noqa: PLC0415

    from iwm.modules.ranks.schemas import load_plan  # noqa: PLC0415

    hint = "(the plan's format: README, 'The rank plan file')"
    try:
        load_plan(path)
    except OSError as exc:
        return [f"IWM_RANK_PLAN_FILE: cannot read {path}: {exc.strerror or exc}"]
    except ValidationError as exc:
        return [
            f"IWM_RANK_PLAN_FILE: {path}: "
            f"{'.'.join(str(part) for part in error['loc']) or 'the plan'}: {error['msg']} {hint}"
            for error in exc.errors()
        ]
    return []


def _refuse(lines: list[str], code: int = 2) -> NoReturn:
    for line in lines:
        typer.echo(f"iwm: {line}", err=True)
    raise typer.Exit(code)


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, found before it starts (a busy port
    is then one line and a non-zero exit, not a server that never answers)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}: check --host"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        # As the server will: a port left in TIME_WAIT by a stopped server is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return (
                f"cannot listen on {host}:{port}: {exc.strerror or exc}: "
                "stop what runs there or choose another --port"
            )
    return None


def _prepare_metrics_dir() -> None:
    """A fresh folder for the workers' metrics: the operator's PROMETHEUS_MULTIPROC_DIR,
    emptied, or a new temporary one."""
    import os  # noqa: PLC0415
    import shutil  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, mode=0o700, exist_ok=True)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="iwm-metrics-")


@contextmanager
def _progress(what: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr, so that what a command prints on stdout stays clean for a
    script (and nothing of it shows when stderr is not a terminal); yields the
    `on_progress(what, done, total)` the services take."""
    from iwm.core.progress import silent  # noqa: PLC0415

    stderr = Console(stderr=True)
    if not stderr.is_terminal:
        # A log or a pipe: not even the blank line Rich leaves when it stops.
        yield silent
        return
    with Progress(
        console=stderr,
        transient=True,
        # What the command prints meanwhile (demo-data's accounts) goes above the bar only
        # when stdout is the terminal too; redirected, it stays in its file.
        redirect_stdout=sys.stdout.isatty(),
    ) as progress:
        task = progress.add_task(what, total=None)

        def on_progress(step: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=f"{what}: {step}")

        yield on_progress


def _production() -> bool:
    return get_settings().is_production


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes (about one per core)."),
    ] = 1,
) -> None:
    """Serve the API with uvicorn (no migrations are applied)."""
    import os  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    # Local photo links must point at this server unless a public URL is configured.
    os.environ.setdefault("IWM_PUBLIC_BASE_URL", f"http://{host}:{port}")
    get_settings.cache_clear()
    if workers > 1 and get_settings().redis_url is None:
        typer.echo(
            f"iwm: warning: without IWM_REDIS_URL each of the {workers} workers keeps its own "
            f"rate limits (logins, code redeems, admin API): together {workers} times looser. "
            "Set IWM_REDIS_URL to share them.",
            err=True,
        )

    if problem := _cannot_listen(host, port):
        _refuse([problem], code=1)
    # Before any worker starts, and before prometheus-client is imported here: /metrics
    # sums every worker's figures (see core/metrics.py).
    _prepare_metrics_dir()
    # uvicorn logs at warning level only: say where to go, once, in the log's own format
    # (one JSON object per line in production).
    settings = get_settings()
    configure_logging(settings.json_logs, settings.log_level)
    base = f"http://{host}:{port}"
    docs = f"{base}/docs" if settings.docs_on else "off"
    _say_when_answering(host, port, url=base, docs=docs, stop="Ctrl+C")
    uvicorn.run(
        "iwm.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        # The app routes uvicorn's loggers through its own (JSON in production).
        log_config=None,
        access_log=False,
        proxy_headers=False,
        # After SIGTERM (and the drain, see core/shutdown.py), requests under way may finish
        # within their deadline before they are cancelled.
        timeout_graceful_shutdown=int(settings.request_timeout_seconds) + 1,
    )


def _say_when_answering(host: str, port: int, **fields: str) -> None:
    """Logs `serving` once the server answers HTTP on host:port (bound, and a worker's app
    started), not before: a script or an operator reading the line can use the URL."""
    import http.client  # noqa: PLC0415
    import threading  # noqa: PLC0415

    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104

    def wait() -> None:
        while True:
            conn = http.client.HTTPConnection(target, port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
                continue
            finally:
                conn.close()
            structlog.get_logger("iwm.serve").info("serving", **fields)
            return

    threading.Thread(target=wait, name="iwm-serving", daemon=True).start()


@app.command()
def check() -> None:
    """Check the configuration and reach each part (database, Redis, photo storage): one
    line per problem with its fix; exit 1 on any. Changes nothing: no database file,
    photo folder or secret file is created."""
    settings = get_settings()
    checks: list[tuple[str, Any]] = [("database", _check_database)]
    if settings.redis_url is not None:
        checks.append(("redis", _check_redis))
    checks.append(("storage", _check_storage))

    async def go() -> list[tuple[str, str | None, str, float]]:
        results = []
        for name, probe in checks:
            started = time.perf_counter()
            note = ""
            try:
                problem, note = await asyncio.wait_for(probe(settings), 10)
            except Exception as exc:  # any failure is a line of the report
                problem = _part_problem(name, exc)
            results.append((name, problem, note, (time.perf_counter() - started) * 1000))
        return results

    results = _run(go())
    for name, problem, note, ms in results:
        if problem is None:
            typer.echo(f"ok: {name} ({ms:.0f} ms{f'; {note}' if note else ''})")
        else:
            typer.echo(f"iwm: {problem}", err=True)
    if any(problem is not None for _, problem, _, _ in results):
        raise typer.Exit(1)


async def _check_database(settings: Any) -> tuple[str | None, str]:
    from pathlib import Path  # noqa: PLC0415

    from alembic.script import ScriptDirectory  # noqa: PLC0415
    from sqlalchemy import make_url, text  # noqa: PLC0415

    from iwm.core.db import make_engine  # noqa: PLC0415
    from iwm.core.migrations import alembic_config  # noqa: PLC0415

    url = settings.database_url.get_secret_value()
    if settings.is_sqlite:
        # Opening a missing SQLite file would create it.
        path = Path(make_url(url).database or "")
        if str(path) != ":memory:" and not await asyncio.to_thread(path.is_file):
            where = await asyncio.to_thread(path.absolute)
            return f"the database file {where} does not exist: run iwm migrate", ""
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            try:
                rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
                current = {row[0] for row in rows}
            except Exception:  # no table yet: never migrated
                current = set()
    finally:
        await engine.dispose()
    if current != heads:
        return "the database is not at the newest migration: run iwm migrate", ""
    return None, ""


async def _check_redis(settings: Any) -> tuple[str | None, str]:
    from redis.asyncio import Redis  # noqa: PLC0415

    redis = Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
    )
    try:
        await redis.ping()
    finally:
        await redis.aclose()
    return None, ""


async def _check_storage(settings: Any) -> tuple[str | None, str]:
    from iwm.core.storage import check_storage  # noqa: PLC0415

    return None, await check_storage(settings)


def _part_problem(name: str, exc: BaseException) -> str:
    cause = _first_line(exc)
    if name == "database":
        return (
            f"IWM_DATABASE_URL: cannot reach the database at {_database_host()} ({cause}): "
            "is it running, and are the host, port, user and database right?"
        )
    if name == "redis":
        return f"IWM_REDIS_URL: cannot reach Redis ({cause}): is it running, is the URL right?"
    return (
        f"IWM_STORAGE_URL: the photo storage is not usable ({cause}): for S3 check "
        "IWM_S3_ENDPOINT_URL, the bucket and the AWS_* keys; for a folder, that it is writable"
    )


@app.command()
def migrate() -> None:
    """Bring the database to the newest migration."""
    from iwm.core.migrations import upgrade_head  # noqa: PLC0415

    upgrade_head(get_settings().database_url.get_secret_value())
    console.print("[green]database is at the newest revision[/green]")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="The new user's email (their login).")],
    # Asked for (hidden, twice) when not given: a password on the command line stays in
    # the shell's history and shows in the process list.
    # Optional (no "[required]" in the help): when it is missing Click asks for it.
    password: Annotated[
        str | None,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            show_default=False,
            help="At least 8 characters; asked for, hidden, when not given.",
        ),
    ] = None,
    role: Annotated[Role, typer.Option(case_sensitive=False, help="The user's role.")] = Role.USER,
) -> None:
    """Create an active user; fails if the email is taken."""
    from iwm.core.errors import DomainError  # noqa: PLC0415
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.users.service import UserService  # noqa: PLC0415
    from iwm.projections import install  # noqa: PLC0415

    install()
    secret = password or ""  # Click asked for it when it was not given

    async def go() -> tuple[str, str]:
        async with (
            Resources.opened(get_settings()) as resources,
            resources.sessionmaker.begin() as db,
        ):
            user = await UserService(db).create(
                email, {role}, password_hash=resources.passwords.hash(secret)
            )
            return str(user.id), user.email

    if len(secret) < MIN_PASSWORD_LENGTH:
        console.print(
            f"[red]the password must have at least {MIN_PASSWORD_LENGTH} characters[/red]"
        )
        raise typer.Exit(2)
    try:
        user_id, stored_email = _run(go())
    except DomainError as exc:
        console.print(f"[red]{exc.code}: {exc.detail_message}[/red]")
        raise typer.Exit(1) from None
    console.print(f"created {role.value} {stored_email} ({user_id})")


@app.command("demo-data")
def demo_data(
    force: Annotated[
        bool, typer.Option("--force", help="Load it in production too (known passwords)")
    ] = False,
) -> None:
    """Load a demo data set through the services (safe to run twice)."""
    from iwm.demo import load_demo_data  # noqa: PLC0415

    if _production() and not force:
        _refuse(
            [
                "IWM_ENV is production: demo data makes accounts with a published password "
                "(demo-password); add --force to load it anyway"
            ]
        )
    with _progress("demo data") as on_progress:
        _run(load_demo_data(get_settings(), console, on_progress))


@app.command("reconcile-payouts")
def reconcile_payouts_command(
    now: Annotated[
        bool,
        typer.Option(
            "--now",
            help="Every payout in PROCESSING at once, not only those past "
            "IWM_PAYOUT_RECONCILE_AFTER_SECONDS",
        ),
    ] = False,
) -> None:
    """Finish payouts left in PROCESSING (asks the provider again, never pays twice)."""
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.payouts.service import reconcile_payouts  # noqa: PLC0415
    from iwm.projections import install  # noqa: PLC0415

    install()

    async def go(on_progress: Callable[[str, int, int], None]) -> dict[str, int]:
        async with Resources.opened(get_settings()) as resources:
            return await reconcile_payouts(resources, now=now, on_progress=on_progress)

    with _progress("reconcile") as on_progress:
        counts = _run(go(on_progress))
    console.print(
        f"payouts completed {counts['completed']}, still sent {counts['sent']}, "
        f"failed {counts['failed']}"
    )


def _period_option(help_text: str) -> Any:
    return typer.Option("--period", help=help_text, metavar="YYYY-MM")


@app.command("qualify-ranks")
def qualify_ranks_command(
    period: Annotated[
        str | None, _period_option("The month to qualify (default: the month before this one)")
    ] = None,
) -> None:
    """Set every ACTIVE partner's rank for a month from the rank plan and pay the rank
    bonuses it reaches; a month already qualified changes nothing."""
    from iwm.core.errors import DomainError  # noqa: PLC0415
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.commissions.engine import qualify_ranks  # noqa: PLC0415
    from iwm.projections import install  # noqa: PLC0415

    install()

    async def go(on_progress: Callable[[str, int, int], None]) -> Any:
        async with Resources.opened(get_settings()) as resources:
            return await qualify_ranks(resources, period, on_progress=on_progress)

    try:
        with _progress("qualify") as on_progress:
            report = _run(go(on_progress))
    except DomainError as exc:
        _refuse([_domain_problem(exc)])
    if report.already_done:
        console.print(f"ranks for {report.period} were already qualified: nothing changed")
        return
    console.print(
        f"ranks for {report.period} (plan {report.plan_version}): {report.partners} partners, "
        f"{report.promoted} promoted, {report.demoted} demoted, "
        f"{report.rank_bonuses} rank bonuses"
    )


@app.command("distribute-returns")
def distribute_returns_command(
    period: Annotated[
        str | None,
        _period_option("The month to credit (default: the month before this one)"),
    ] = None,
) -> None:
    """Credit each participation active during a month its prorated return, once per
    month whatever the retries."""
    from iwm.core.errors import DomainError  # noqa: PLC0415
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.strategies.service import distribute_returns  # noqa: PLC0415
    from iwm.projections import install  # noqa: PLC0415

    install()

    async def go(on_progress: Callable[[str, int, int], None]) -> Any:
        async with Resources.opened(get_settings()) as resources:
            return await distribute_returns(resources, period, on_progress)

    try:
        with _progress("distribute") as on_progress:
            report = _run(go(on_progress))
    except DomainError as exc:
        _refuse([_domain_problem(exc)])
    amount = _amount(report.amount_minor)
    console.print(
        f"returns for {report.period}: {report.credited} credited ({amount}), "
        f"{report.already_done} already credited before"
    )


def _amount(minor: int) -> str:
    from iwm.core.money import from_minor, json_text  # noqa: PLC0415

    return json_text(from_minor(minor))


def _domain_problem(exc: Any) -> str:
    """A refused command's DomainError as one line: its message and each detail."""
    said = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.details.items())
    return f"{exc.detail_message}" + (f" ({said})" if said else "")


@app.command()
def cleanup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count; remove nothing")] = False,
) -> None:
    """Delete expired orders, codes, kiosk errors and orphaned photos."""
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.cleanup.service import CleanupService  # noqa: PLC0415

    steps = CleanupService.DRY_RUN_STEPS if dry_run else CleanupService.STEPS

    async def go(on_progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        def on_step(name: str) -> None:
            on_progress(name, steps.index(name), len(steps))

        async with Resources.opened(get_settings()) as resources:
            report = await CleanupService(resources).run(dry_run=dry_run, on_step=on_step)
        on_progress("done", len(steps), len(steps))
        return report.as_dict()

    with _progress("cleanup") as on_progress:
        report = _run(go(on_progress))
    table = Table(title="cleanup (dry run: nothing removed)" if dry_run else "cleanup")
    table.add_column("what")
    table.add_column("removed" if not dry_run else "would remove", justify="right")
    for key, value in report.items():
        if key != "dry_run":
            table.add_row(key.replace("_", " "), str(value))
    console.print(table)


@app.command("rebuild-projections")
def rebuild_projections(
    check: Annotated[
        bool, typer.Option("--check", help="Only compare; exit 1 on any drift")
    ] = False,
) -> None:
    """Recompute every derived table (balances, network levels, totals, analytics rollups)
    from the source rows; with --check change nothing and print each projection's drift."""
    from iwm.core import events  # noqa: PLC0415
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.projections import install  # noqa: PLC0415

    install()

    async def go(on_progress: Callable[[str, int, int], None]) -> list[events.Drift]:
        async with Resources.opened(get_settings()) as resources:
            if not check:
                await events.rebuild(resources.sessionmaker, on_progress)
            return await events.check(resources.sessionmaker, on_progress)

    with _progress("projections") as on_progress:
        drifts = _run(go(on_progress))
    table = Table(title="projections: drift from the source rows" if check else "projections")
    table.add_column("projection")
    table.add_column("owner")
    table.add_column("rows differing", justify="right")
    table.add_column("amount differing", justify="right")
    for drift in drifts:
        table.add_row(drift.projection, drift.owner, str(len(drift.differences)), str(drift.amount))
    console.print(table)
    for drift in drifts:
        for d in drift.differences[:SHOWN_DIFFERENCES]:
            key = ", ".join(str(part) for part in d.key)
            console.print(
                f"{drift.projection} {d.table} [{key}]: kept {d.kept}, rebuilt {d.rebuilt}"
            )
    if any(drift.differences for drift in drifts):
        console.print("[red]drift found[/red]" if check else "[red]drift after rebuild[/red]")
        raise typer.Exit(1)
    console.print("no drift" if check else "rebuilt; no drift")
