"""The local photo folder writes whole files or nothing: flushed to disk before the rename,
no temporary file left by a failed write, a full disk answered 507 STORAGE_FULL and a folder
that cannot be written 503, both in the error format; the cleanup removes the temporary
files of writes that died."""

import errno
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources
from iwm.core.storage import LocalStorage, StorageFull
from iwm.modules.cleanup.service import CleanupService
from iwm.modules.orders.models import Order
from tests.factories.images import jpeg
from tests.factories.kiosk_network import count, make_world
from tests.support import Profile

FORM = {"customerName": "John Doe", "customerEmail": "john@example.com"}


@pytest.fixture
def local(profile: Profile) -> None:
    if profile.is_production:
        pytest.skip("the production profile stores photos in S3")


def _temporary(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp-*") if p.is_file()]


def _failing_fsync(code: int) -> Callable[[int], None]:
    def fsync(_fd: int) -> None:
        raise OSError(code, os.strerror(code))

    return fsync


async def test_the_photo_is_on_disk_before_it_is_renamed_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path, "http://test", b"secret")
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    await storage.put("orders/a.jpg", b"photo", "image/jpeg")
    # The file's data, then the rename, then the folder's entry.
    assert calls == ["fsync", "replace", "fsync"]
    assert await storage.get("orders/a.jpg") == b"photo"
    assert _temporary(tmp_path) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
async def test_a_failed_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    storage = LocalStorage(tmp_path, "http://test", b"secret")
    monkeypatch.setattr(os, "fsync", _failing_fsync(code))
    with pytest.raises(StorageFull if code == errno.ENOSPC else OSError):
        await storage.put("orders/a.jpg", b"photo", "image/jpeg")
    assert _temporary(tmp_path) == []
    assert await storage.get("orders/a.jpg") is None


@pytest.mark.parametrize(
    ("code", "status", "error_code"),
    [(errno.ENOSPC, 507, "STORAGE_FULL"), (errno.EROFS, 503, "SERVICE_UNAVAILABLE")],
)
async def test_an_upload_to_a_full_or_read_only_folder_is_answered_in_the_error_format(
    local: None,
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    status: int,
    error_code: str,
) -> None:
    kiosk = (await make_world(resources)).kiosks[0]
    monkeypatch.setattr(os, "fsync", _failing_fsync(code))
    resp = await client.post(
        f"/kiosk/{kiosk.id}/orders",
        headers=kiosk.headers,
        data=FORM,
        files={"image": ("photo.jpg", jpeg(), "image/jpeg")},
    )
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False
    assert body["error"]["code"] == error_code
    if status == 503:
        assert int(resp.headers["retry-after"]) >= 1
    monkeypatch.undo()
    assert await count(db, Order) == 0
    assert _temporary(resources.storage.root) == []  # type: ignore[attr-defined]


async def test_the_cleanup_removes_stale_temporary_files_only(
    local: None, client: httpx.AsyncClient, resources: Resources
) -> None:
    root: Path = resources.storage.root  # type: ignore[attr-defined]
    (root / "orders").mkdir(parents=True, exist_ok=True)
    stale = root / "orders" / ".tmp-0badf00d-left-by-a-crash.jpg"
    fresh = root / "orders" / ".tmp-1234abcd-being-written.jpg"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    hours_ago = time.time() - 3 * 3600
    os.utime(stale, (hours_ago, hours_ago))

    dry = await CleanupService(resources).run(dry_run=True)
    assert dry.temporary_files == 0  # a dry run removes nothing
    report = await CleanupService(resources).run()
    assert report.temporary_files == 1
    assert not stale.exists()
    assert fresh.exists()
    fresh.unlink()
