"""The deploy guide names only settings that exist, and the project states its license."""

import re
from pathlib import Path

from iwm.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_guide_names_real_settings() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"IWM_[A-Z0-9_]+", text))
    known = {f"IWM_{name.upper()}" for name in Settings.model_fields}
    assert named
    assert named <= known, named - known
    for topic in ("TLS", "appendonly", "pg_dump", "pg_restore", "--workers", "Upgrades"):
        assert topic in text


def test_license_and_changelog() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
