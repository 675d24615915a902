"""Alembic, driven from code: `iwm migrate` and the test setup use the same history."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from iwm.core.files import private_sqlite_file

# Shipped inside the package (not beside it), so an installed wheel can migrate.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_head(database_url: str) -> None:
    private_sqlite_file(database_url)
    command.upgrade(alembic_config(database_url), "head")
