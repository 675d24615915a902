"""The `iwm` command line: thin wrappers around the services."""

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from iwm.core.config import (
    ConfigError,
    check_production,
    get_settings,
    settings_problems,
)
from iwm.core.principal import Role

app = typer.Typer(
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


# Every command starts from valid settings: else one line per variable, and exit code 2.
@app.callback()
def _checked_settings() -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        check_production(get_settings())
    except ValidationError as exc:
        _refuse(settings_problems(exc))
    except ConfigError as exc:
        _refuse(str(exc).splitlines())


def _refuse(lines: list[str]) -> NoReturn:
    for line in lines:
        typer.echo(f"iwm: {line}", err=True)
    raise typer.Exit(2)


def _production() -> bool:
    return get_settings().is_production


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
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
    )


@app.command()
def migrate() -> None:
    """Bring the database to the newest migration."""
    from iwm.core.migrations import upgrade_head  # noqa: PLC0415

    upgrade_head(get_settings().database_url.get_secret_value())
    console.print("[green]database is at the newest revision[/green]")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option()],
    # Asked for (hidden, twice) when not given: a password on the command line stays in
    # the shell's history and shows in the process list.
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True),
    ],
    role: Annotated[Role, typer.Option(case_sensitive=False)] = Role.USER,
) -> None:
    """Create an active user; fails if the email is taken."""
    from iwm.core.errors import DomainError  # noqa: PLC0415
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.users.service import UserService  # noqa: PLC0415
    from iwm.projections import install  # noqa: PLC0415

    install()

    async def go() -> tuple[str, str]:
        async with (
            Resources.opened(get_settings()) as resources,
            resources.sessionmaker.begin() as db,
        ):
            user = await UserService(db).create(
                email, {role}, password_hash=resources.passwords.hash(password)
            )
            return str(user.id), user.email

    if len(password) < MIN_PASSWORD_LENGTH:
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
    _run(load_demo_data(get_settings(), console))


@app.command("reconcile-payouts")
def reconcile_payouts_command() -> None:
    """Finish payouts left in PROCESSING (asks the provider again, never pays twice)."""
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.payouts.service import reconcile_payouts  # noqa: PLC0415
    from iwm.projections import install  # noqa: PLC0415

    install()

    async def go() -> dict[str, int]:
        async with Resources.opened(get_settings()) as resources:
            return await reconcile_payouts(resources)

    counts = _run(go())
    console.print(
        f"payouts completed {counts['completed']}, still sent {counts['sent']}, "
        f"failed {counts['failed']}"
    )


@app.command()
def cleanup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count")] = False,
) -> None:
    """Delete expired orders, codes, kiosk errors and orphaned photos."""
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.cleanup.service import CleanupService  # noqa: PLC0415

    async def go() -> dict[str, Any]:
        async with Resources.opened(get_settings()) as resources:
            return (await CleanupService(resources).run(dry_run=dry_run)).as_dict()

    report = _run(go())
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

    async def go() -> list[events.Drift]:
        async with Resources.opened(get_settings()) as resources:
            if not check:
                await events.rebuild(resources.sessionmaker)
            return await events.check(resources.sessionmaker)

    drifts = _run(go())
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
