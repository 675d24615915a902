"""The `iwm` command line: thin wrappers around the services."""

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from iwm.core.config import get_settings
from iwm.core.principal import Role

app = typer.Typer(help="IWM platform backend.", no_args_is_help=True, add_completion=False)
console = Console()
T = TypeVar("T")
MIN_PASSWORD_LENGTH = 8


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

    uvicorn.run(
        "iwm.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


@app.command()
def migrate() -> None:
    """Bring the database to the newest migration."""
    from iwm.core.migrations import upgrade_head  # noqa: PLC0415

    upgrade_head(get_settings().database_url)
    console.print("[green]database is at the newest revision[/green]")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option(case_sensitive=False)] = Role.USER,
) -> None:
    """Create an active user; fails if the email is taken."""
    from iwm.core.errors import DomainError  # noqa: PLC0415
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.users.service import UserService  # noqa: PLC0415

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
def demo_data() -> None:
    """Load a demo data set through the services (safe to run twice)."""
    from iwm.demo import load_demo_data  # noqa: PLC0415

    _run(load_demo_data(get_settings(), console))


@app.command("reconcile-payouts")
def reconcile_payouts_command() -> None:
    """Finish payouts left in PROCESSING (asks the provider again, never pays twice)."""
    from iwm.core.resources import Resources  # noqa: PLC0415
    from iwm.modules.payouts.service import reconcile_payouts  # noqa: PLC0415

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
