"""Photo storage: a local folder served by the app (signed URLs), or an S3 bucket
(presigned URLs). Keys are opaque; the order row holds the key."""

import asyncio
import errno
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote, urlparse

from iwm.core.config import Settings
from iwm.core.errors import DomainError, ServiceUnavailable
from iwm.core.files import private_dirs, write_private

if TYPE_CHECKING:
    from botocore.config import Config as BotoConfig

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    modified_at: datetime


class PhotoStorage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes | None: ...
    async def delete(self, keys: list[str]) -> None: ...
    def list(self) -> AsyncIterator[StoredObject]: ...
    async def url(self, key: str) -> str: ...
    async def urls(self, keys: Sequence[str]) -> Sequence[str]: ...
    async def close(self) -> None: ...
    async def check(self) -> None: ...
    async def remove_stale_temporary(self, older_than: datetime) -> int: ...


URL_TTL_SECONDS = 3600
# Files being written: never listed as photos; removed by the cleanup when stale.
TEMPORARY_PREFIX = ".tmp-"


class LocalStorage:
    """Files under a folder; URLs point at the app's `/media/...` with an HMAC signature."""

    def __init__(self, root: Path, base_url: str, secret: bytes) -> None:
        self.root = root.resolve()
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        private_dirs(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError("key escapes the storage root")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(_write_atomic, path, data)

    async def get(self, key: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except (FileNotFoundError, ValueError):
            return None

    async def delete(self, keys: list[str]) -> None:
        for key in keys:
            await asyncio.to_thread(self._path(key).unlink, True)

    async def list(self) -> AsyncIterator[StoredObject]:
        paths = await asyncio.to_thread(lambda: [p for p in self.root.rglob("*") if p.is_file()])
        for path in paths:
            if path.name.startswith(TEMPORARY_PREFIX):
                continue
            mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
            yield StoredObject(key=path.relative_to(self.root).as_posix(), modified_at=mtime)

    def sign(self, key: str, expires: int) -> str:
        msg = f"{key}:{expires}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def verify(self, key: str, expires: int, signature: str) -> bool:
        if expires < int(time.time()):
            return False
        return hmac.compare_digest(self.sign(key, expires), signature)

    async def url(self, key: str) -> str:
        expires = int(time.time()) + URL_TTL_SECONDS
        # Round so that repeated listings within a minute give the same URL (browser cache).
        expires -= expires % 60
        sig = self.sign(key, expires)
        return f"{self._base_url}/media/{quote(key)}?expires={expires}&signature={sig}"

    async def urls(self, keys: Sequence[str]) -> Sequence[str]:
        """Many links in one go: signed here, without a task per link."""
        expires = int(time.time()) + URL_TTL_SECONDS
        expires -= expires % 60
        base, tail = f"{self._base_url}/media/", f"?expires={expires}&signature="
        return [f"{base}{quote(k)}{tail}{self.sign(k, expires)}" for k in keys]

    async def close(self) -> None:
        return None

    async def remove_stale_temporary(self, older_than: datetime) -> int:
        """Deletes the temporary files of writes that died (a crash, a killed process)
        and were last touched before `older_than`; how many."""
        cutoff = older_than.timestamp()

        def sweep() -> int:
            removed = 0
            for path in self.root.rglob(f"{TEMPORARY_PREFIX}*"):
                try:
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue  # renamed into place or removed meanwhile
            return removed

        return await asyncio.to_thread(sweep)

    async def check(self) -> None:
        """Raises when photos cannot be written (folder gone or read-only)."""
        await asyncio.to_thread(_probe_folder, self.root)


def _probe_folder(root: Path) -> None:
    if not root.is_dir():
        raise FileNotFoundError(f"storage folder {root} does not exist")
    if not os.access(root, os.W_OK | os.X_OK):
        raise PermissionError(f"storage folder {root} is not writable")


def _write_atomic(path: Path, data: bytes) -> None:
    """The whole photo or nothing, even across a crash: written to a temporary file, flushed
    to disk, renamed into place, the rename flushed too. A failed write leaves no temporary
    file behind; a full disk is 507 STORAGE_FULL, a folder that cannot be written a 503."""
    tmp = path.with_name(f"{TEMPORARY_PREFIX}{secrets.token_hex(4)}-{path.name}")
    try:
        # Customers' photos: readable by the service's user only.
        private_dirs(path.parent)
        write_private(tmp, data, fsync=True)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull() from exc
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise ServiceUnavailable("The photo storage cannot be written") from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StorageFull(DomainError):
    status_code, code, message = 507, "STORAGE_FULL", "The photo storage is full"


class S3Storage:
    """An S3-compatible bucket through aioboto3; one client for the process."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        endpoint_url: str | None,
        config: "BotoConfig | None" = None,
    ) -> None:
        import aioboto3  # noqa: PLC0415 - only needed when S3 is configured

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._endpoint_url = endpoint_url
        self._config = config
        self._session = aioboto3.Session()
        self._client: Any = None
        self._client_cm: Any = None
        self._lock = asyncio.Lock()

    async def _c(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client_cm = self._session.client(
                        "s3", endpoint_url=self._endpoint_url, config=self._config
                    )
                    self._client = await self._client_cm.__aenter__()
        return self._client

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _short(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    async def _once_more(self, call: Callable[[Any], Awaitable[T]]) -> T:
        """Runs `call(client)`, once more at once when the endpoint dropped or refused the
        connection (a pooled connection left over from before its restart). No retry after
        a timeout: the request would wait twice as long before its 503."""
        from botocore.exceptions import (  # noqa: PLC0415
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
        )

        client = await self._c()
        try:
            return await call(client)
        except (ConnectionClosedError, EndpointConnectionError) as exc:
            if isinstance(exc, ConnectTimeoutError):
                raise
            return await call(client)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._once_more(
            lambda client: client.put_object(
                Bucket=self.bucket, Key=self._full(key), Body=data, ContentType=content_type
            )
        )

    async def get(self, key: str) -> bytes | None:
        client = await self._c()
        try:
            obj = await self._once_more(
                lambda c: c.get_object(Bucket=self.bucket, Key=self._full(key))
            )
        except client.exceptions.NoSuchKey:
            return None
        async with obj["Body"] as body:
            data: bytes = await body.read()
            return data

    async def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = {
                "Objects": [{"Key": self._full(k)} for k in keys[start : start + 1000]],
                "Quiet": True,
            }
            await self._once_more(
                lambda c, batch=batch: c.delete_objects(Bucket=self.bucket, Delete=batch)  # type: ignore[misc]
            )

    async def list(self) -> AsyncIterator[StoredObject]:
        client = await self._c()
        paginator = client.get_paginator("list_objects_v2")
        prefix = f"{self.prefix}/" if self.prefix else ""
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield StoredObject(key=self._short(obj["Key"]), modified_at=obj["LastModified"])

    async def url(self, key: str) -> str:
        client = await self._c()
        url: str = await client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._full(key)},
            ExpiresIn=URL_TTL_SECONDS,
        )
        return url

    async def urls(self, keys: Sequence[str]) -> Sequence[str]:
        return list(await asyncio.gather(*(self.url(k) for k in keys)))

    async def remove_stale_temporary(self, older_than: datetime) -> int:
        return 0  # an object is stored whole or not at all

    async def check(self) -> None:
        """Raises when the endpoint does not answer or the bucket is missing."""
        await self._once_more(lambda c: c.head_bucket(Bucket=self.bucket))

    async def close(self) -> None:
        if self._client_cm is not None:
            await self._client_cm.__aexit__(None, None, None)
            self._client = self._client_cm = None


def s3_config(settings: Settings) -> "BotoConfig":
    """Bounded waits on the bucket: an endpoint that is down or hung fails the request in
    about the configured time (then 503) instead of botocore's 60 s and retries."""
    from botocore.config import Config  # noqa: PLC0415 - only needed when S3 is configured

    return Config(
        connect_timeout=settings.s3_connect_timeout_seconds,
        read_timeout=settings.s3_read_timeout_seconds,
        # botocore's retries back off for up to seconds between attempts, past the bound a
        # request that needs the bucket must keep: by default none (the storage itself
        # retries a dropped connection at once, and kiosks retry safely by Idempotency-Key).
        retries={"total_max_attempts": settings.s3_max_attempts, "mode": "standard"},
    )


def make_storage(settings: Settings, secret: bytes) -> PhotoStorage:
    parsed = urlparse(settings.storage_url)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path, settings.s3_endpoint_url, s3_config(settings))
    if parsed.scheme == "file":
        return LocalStorage(_folder(settings), settings.public_base_url, secret)
    raise ValueError(f"unsupported IWM_STORAGE_URL scheme: {parsed.scheme!r}")


def _folder(settings: Settings) -> Path:
    # file://./photos (relative) and file:///abs/path both work.
    parsed = urlparse(settings.storage_url)
    return Path((parsed.netloc + parsed.path) if parsed.netloc else parsed.path)


async def check_storage(settings: Settings) -> str:
    """Raises when the configured storage cannot be used, changing nothing (a missing
    folder is not created: only its nearest existing parent must let the service create
    it). Returns a note for the operator, or ""."""
    parsed = urlparse(settings.storage_url)
    if parsed.scheme == "s3":
        storage = S3Storage(
            parsed.netloc, parsed.path, settings.s3_endpoint_url, s3_config(settings)
        )
        try:
            await storage.check()
        finally:
            await storage.close()
        return ""
    root = _folder(settings).resolve()

    def probe() -> str:
        if root.exists():
            _probe_folder(root)
            return ""
        parent = root.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(
                f"storage folder {root} does not exist and cannot be made in {parent}"
            )
        return f"{root} is made at start"

    return await asyncio.to_thread(probe)
