"""Archive destinations' storage: a local folder, an S3 bucket or an Azure Blob container behind
one small API, over obstore (the Python bindings of Rust's ``object_store``).

Every write is atomic per file: nothing partial is ever visible under a final name, even after a
``kill -9`` mid-write. S3 and Azure give that themselves (a single PUT, or a multipart upload that
only appears once completed). A folder gets it from a rename: the file is written under the hidden
``.incoming/`` folder at the archive's root, then renamed into place; staging files left there by
a crash are removed by the next ``open_archive`` once they are a while old.

Large files stream from disk in ``CHUNK_SIZE`` parts, at most ``MAX_CONCURRENCY`` in flight, so
an upload holds a bounded amount of memory whatever the file's size.

Credentials come from the environment only and never appear in errors or reprs. obstore's
exceptions are classified here into the one taxonomy (``TikrelayError``). The calls block: from
async code, run them in a thread.
"""

from __future__ import annotations

import contextlib
import errno
import re
import stat
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import LocalStore

from tikrelay.domain.errors import ErrorKind, TikrelayError

if TYPE_CHECKING:
    from obstore.store import ObjectStore

#: Part size of streamed uploads (S3's smallest part is 5 MiB) and how many parts are in flight:
#: an upload holds about CHUNK_SIZE * (MAX_CONCURRENCY + 1) bytes at most.
CHUNK_SIZE = 5 * 1024 * 1024
MAX_CONCURRENCY = 4
#: The hidden folder at a local archive's root where files are written before their rename.
STAGING = ".incoming"
_BAD_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
# object_store's LocalStore names its own temporary files NAME#N and hides them from listings.
_LOCAL_TEMP_NAME = re.compile(r"#\d+$")
# obstore has no exception type for these: the status code and errno are only in its message.
_STATUS = re.compile(r"status code: (\d{3})")
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_SAS_SIGNATURE = re.compile(r"(sig=)[^&\s\"'<]+", re.IGNORECASE)
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_NO_ACCESS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

_T = TypeVar("_T")


@dataclass(frozen=True)
class StoredObject:
    """One file in an archive: its key (relative to the archive's root), size and change time."""

    key: str
    size: int
    last_modified: datetime  # aware, UTC


def check_key(key: str) -> str:
    """``key`` if it is a relative '/'-separated path with no empty, ``.`` or ``..`` segment;
    ``ValueError`` otherwise. ``.incoming`` is reserved for the staging of local writes."""
    if not key:
        raise ValueError("an archive key must not be empty")
    if key.startswith("/"):
        raise ValueError(f"archive key {key!r} is absolute: give a path relative to the archive")
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"archive key {key!r} has an empty, '.' or '..' segment")
        if _BAD_KEY_CHARS.search(segment):
            raise ValueError(f"archive key {key!r} has a backslash or a control character")
    if segments[0] == STAGING:
        raise ValueError(f"archive key {key!r} is under {STAGING}/, which is reserved")
    if _LOCAL_TEMP_NAME.search(segments[-1]):
        raise ValueError(f"archive key {key!r} ends in '#' and digits, a temporary file's name")
    return key


class ArchiveStore:
    """One archive destination's storage. Keys are '/'-separated paths relative to its root."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        description: str,
        credentials: str,
        secrets: Iterable[str] = (),
    ) -> None:
        self._store = store
        self._description = description
        self._credentials = credentials  # what to check when access is refused
        self._local = isinstance(store, LocalStore)  # then writes go through STAGING
        self._secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"ArchiveStore({self._description!r})"

    def describe(self) -> str:
        """Where the archive is, without secrets: a folder, ``s3://…`` or ``az://…``."""
        return self._description

    def put_file(self, key: str, local: Path) -> None:
        """Store the file at ``local`` under ``key``, replacing what was there, atomically. A file
        over ``CHUNK_SIZE`` (or a pipe, whose size is unknown) is streamed in parts."""
        check_key(key)
        info = local.stat()  # a missing source is the caller's FileNotFoundError, not ours
        multipart = not stat.S_ISREG(info.st_mode) or info.st_size > CHUNK_SIZE
        self._put(key, local, multipart=multipart)

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` (a small file, such as metadata.json) under ``key``, atomically."""
        check_key(key)
        self._put(key, data, multipart=False)

    def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key`` (a folder is no file)."""
        check_key(key)
        try:
            self._call(
                f"cannot check {key!r}", lambda: obstore.head(self._store, key), missing_ok=True
            )
        except _NotFoundError:
            return False
        return True

    def read_bytes(self, key: str) -> bytes | None:
        """The whole content of ``key`` (meant for small files), or None if there is none."""
        check_key(key)
        try:
            return self._call(
                f"cannot read {key!r}",
                lambda: bytes(obstore.get(self._store, key).bytes()),
                missing_ok=True,
            )
        except _NotFoundError:
            return None

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every file under ``prefix`` (all of them for ""), at any depth, in no set order.
        Prefixes match whole segments: ``a/b`` and ``a/b/`` cover ``a/b/c`` but not ``a/bc``."""
        under = prefix.removesuffix("/")
        if under:
            check_key(under)  # now, not at the first iteration
        doing = f"cannot list {prefix!r}" if under else "cannot list the archive"
        return self._listing(under, doing)

    def _listing(self, under: str, doing: str) -> Iterator[StoredObject]:
        stream = obstore.list(self._store, under or None, chunk_size=1000)
        while True:
            try:
                chunk = self._call(doing, lambda: next(stream, None), missing_ok=True)
            except _NotFoundError:
                return  # a local folder that is not there (yet) holds nothing
            if chunk is None:
                return
            for meta in chunk:
                if meta["path"].startswith(f"{STAGING}/"):
                    continue
                changed = meta["last_modified"]
                changed = changed.replace(tzinfo=UTC) if changed.tzinfo is None else changed
                yield StoredObject(meta["path"], meta["size"], changed.astimezone(UTC))

    def delete(self, keys: Iterable[str]) -> None:
        """Delete ``keys``; one that is already gone is no error."""
        doomed = [check_key(key) for key in keys]
        if not doomed:
            return
        try:
            # In batches where the store has them (1000 keys on S3, 256 on Azure).
            self._call(
                f"cannot delete {doomed[0]!r}…",
                lambda: obstore.delete(self._store, doomed),
                missing_ok=True,
            )
            return
        except _NotFoundError:
            pass  # a folder and Azure fail on a missing file, perhaps before the rest: one by one
        for key in doomed:
            with contextlib.suppress(_NotFoundError):
                self._call(f"cannot delete {key!r}", self._deleter(key), missing_ok=True)

    def _deleter(self, key: str) -> Callable[[], None]:
        return lambda: obstore.delete(self._store, key)

    def _put(self, key: str, source: Path | bytes, *, multipart: bool) -> None:
        def put(path: str) -> None:
            obstore.put(
                self._store,
                path,
                source,
                use_multipart=multipart,
                chunk_size=CHUNK_SIZE,
                max_concurrency=MAX_CONCURRENCY,
            )

        if not self._local:
            self._call(f"cannot write {key!r}", lambda: put(key))
            return
        staged = f"{STAGING}/{uuid.uuid4().hex}"
        try:
            self._call(f"cannot write {key!r}", lambda: put(staged))
            # rename(2) within one file system: the final name shows the whole file or nothing.
            self._call(f"cannot write {key!r}", lambda: obstore.rename(self._store, staged, key))
        except BaseException:
            # Never written, or renamed already; a leftover goes at a later open anyway.
            with contextlib.suppress(BaseError, OSError):
                obstore.delete(self._store, staged)
            raise

    def _call(self, doing: str, call: Callable[[], _T], *, missing_ok: bool = False) -> _T:
        """``call()``, its obstore errors classified; ``missing_ok``: a missing object raises
        ``_NotFoundError`` for the caller to turn into False, None or nothing."""
        try:
            return call()
        except (BaseError, OSError) as exc:
            if missing_ok and isinstance(exc, FileNotFoundError):
                raise _NotFoundError from None
            # Not ``from exc``: obstore's message holds request URLs, with a SAS signature in
            # them where one is used. The scrubbed gist goes into the message instead.
            raise self._classify(exc, f"{doing} in {self._description}") from None

    def _classify(self, exc: BaseException, doing: str) -> TikrelayError:
        said = self._gist(exc)
        status_found = _STATUS.search(said)
        status = int(status_found.group(1)) if status_found else None
        code = _os_errno(exc, said)
        if code in _DISK_FULL:
            return TikrelayError(ErrorKind.DISK_FULL, f"{doing}: no space left on device ({said})")
        if (
            isinstance(exc, (PermissionDeniedError, UnauthenticatedError))
            or status in (401, 403)
            or code in _NO_ACCESS
        ):
            return TikrelayError(
                ErrorKind.AUTH,
                f"{doing}: access refused ({said}); check {self._credentials}",
                retryable=False,
                http_status=status,
            )
        if isinstance(exc, FileNotFoundError) or status == 404:
            missing = "the folder" if self._local else "the bucket or container"
            return TikrelayError(
                ErrorKind.UNSUPPORTED,
                f"{doing}: {missing} does not exist ({said}); create it first",
                retryable=False,
                http_status=status,
            )
        if status is not None:
            return TikrelayError(
                ErrorKind.HTTP,
                f"{doing}: the storage server answered {status} ({said})",
                retryable=status == 429 or status >= 500,
                http_status=status,
            )
        if not self._local:  # no answer at all: refused, reset, timed out, name not resolved
            return TikrelayError(
                ErrorKind.NETWORK, f"{doing}: storage unreachable ({said})", retryable=True
            )
        return TikrelayError(ErrorKind.UNKNOWN, f"{doing}: {said}")

    def _gist(self, exc: BaseException) -> str:
        """obstore's message without its debug dump and secrets, on one line, cut short."""
        text = str(exc).split("\n\nDebug source", 1)[0]
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _SAS_SIGNATURE.sub(r"\1***", " ".join(text.split()))
        return text if len(text) <= 400 else f"{text[:399]}…"


class _NotFoundError(Exception):
    """Internal: the object is not there (mapped to False, None or nothing by the caller)."""


def _os_errno(exc: BaseException, said: str) -> int | None:
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    found = _OS_ERROR.search(said)
    return int(found.group(1)) if found else None
