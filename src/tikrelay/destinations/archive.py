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

import binascii
import contextlib
import errno
import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import AzureStore, LocalStore, S3Store

from tikrelay.domain.errors import ErrorKind, TikrelayError

if TYPE_CHECKING:
    from obstore.store import AzureConfig, ClientConfig, ObjectStore, RetryConfig, S3Config

#: Part size of streamed uploads (S3's smallest part is 5 MiB) and how many parts are in flight:
#: an upload holds about CHUNK_SIZE * (MAX_CONCURRENCY + 1) bytes at most.
CHUNK_SIZE = 5 * 1024 * 1024
MAX_CONCURRENCY = 4
#: The hidden folder at a local archive's root where files are written before their rename.
STAGING = ".incoming"
#: Staging files untouched for this long belong to a writer that died; younger ones may be live.
STALE_AFTER = timedelta(minutes=15)

S3_CREDENTIALS = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
AZURE_CREDENTIALS = (
    "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY"
)

_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_AZURE_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_BAD_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
# object_store's LocalStore names its own temporary files NAME#N and hides them from listings.
_LOCAL_TEMP_NAME = re.compile(r"#\d+$")
# obstore has no exception type for these: the status code and errno are only in its message.
_STATUS = re.compile(r"status code: (\d{3})")
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_SAS_SIGNATURE = re.compile(r"(sig=)[^&\s\"'<]+", re.IGNORECASE)
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_NO_ACCESS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

# The job engine retries whole jobs with its own backoff: obstore's own retries (10 over up to
# three minutes by default) only need to ride out a blip.
_RETRY: RetryConfig = {
    "max_retries": 3,
    "retry_timeout": timedelta(seconds=60),
    "backoff": {
        "init_backoff": timedelta(milliseconds=100),
        "max_backoff": timedelta(seconds=5),
        "base": 2,
    },
}

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


def open_archive(
    *, path: Path | str | None = None, url: str | None = None, endpoint_url: str | None = None
) -> ArchiveStore:
    """The storage of one archive destination: a local folder (``path``, created if missing) or
    object storage (``url``: ``s3://BUCKET/PREFIX`` or ``az://CONTAINER/PREFIX``), with
    ``endpoint_url`` for a server other than AWS's or Azure's (MinIO, moto, Azurite). Opening
    sends no request. Configuration errors raise ``ValueError`` naming what to fix."""
    if (path is None) == (url is None):
        raise ValueError(
            "give exactly one of path (a local folder) and url (s3://BUCKET/PREFIX or "
            "az://CONTAINER/PREFIX)"
        )
    if path is not None:
        if endpoint_url is not None:
            raise ValueError("endpoint_url goes with url (object storage), not with path")
        return _open_folder(Path(path))
    return _open_url(url or "", endpoint_url)


def _open_url(url: str, endpoint_url: str | None) -> ArchiveStore:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("s3", "az"):
        raise ValueError(
            f"archive url {_shown(url)!r} is not supported: write s3://BUCKET/PREFIX or "
            "az://CONTAINER/PREFIX"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"archive url {_shown(url)!r} holds credentials: put them in the environment"
        )
    if parts.port is not None or parts.query or parts.fragment:
        raise ValueError(
            f"archive url {_shown(url)!r} has a port, query or fragment: write "
            f"{scheme}://NAME/PREFIX and put a server's address in endpoint_url"
        )
    if not parts.netloc:
        noun = "bucket" if scheme == "s3" else "container"
        raise ValueError(
            f"archive url {_shown(url)!r} names no {noun}: write {scheme}://{noun.upper()}/PREFIX"
        )
    prefix = parts.path.strip("/")
    if prefix:
        try:
            check_key(prefix)
        except ValueError:
            raise ValueError(
                f"archive url {_shown(url)!r} has a bad prefix: no empty, '.' or '..' segments"
            ) from None
    options = _client_options(endpoint_url)
    if scheme == "s3":
        return _open_s3(parts.netloc, prefix, endpoint_url, options)
    return _open_azure(parts.netloc, prefix, endpoint_url, options)


def _open_folder(root: Path) -> ArchiveStore:
    """A local folder as an archive (created if missing); staging files left by writers that
    died are removed."""
    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ValueError(f"archive path {root} is not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(root)
    except OSError as exc:
        raise ValueError(f"cannot use {root} as an archive folder: {exc.strerror}") from None
    return ArchiveStore(
        LocalStore(root, automatic_cleanup=True),
        description=str(root),
        credentials=f"the permissions of {root}",
    )


def remove_stale_staging(root: Path, stale_after: timedelta = STALE_AFTER) -> int:
    """Remove staging files under ``root/.incoming`` untouched for ``stale_after``; how many."""
    cutoff = time.time() - stale_after.total_seconds()
    removed = 0
    try:
        entries = list(os.scandir(root / STAGING))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            pass  # its writer finished (renamed it) or another process removed it
    return removed


def _open_s3(
    bucket: str, prefix: str, endpoint_url: str | None, options: ClientConfig
) -> ArchiveStore:
    where = f"s3://{bucket}/{prefix}".removesuffix("/")
    if not _S3_BUCKET.fullmatch(bucket):
        raise ValueError(
            f"archive url {where!r}: {bucket!r} is not a bucket name (3 to 63 lowercase "
            "letters, digits, dots and hyphens)"
        )
    env = os.environ
    missing = [name for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(name)]
    if missing:
        raise ValueError(f"{where} needs credentials: set {' and '.join(missing)}")
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
    if not region:
        if endpoint_url is None:
            raise ValueError(f"{where} needs its region: set AWS_DEFAULT_REGION (e.g. eu-west-1)")
        region = "us-east-1"  # what S3-compatible servers take when they do not care
    config: S3Config = {
        "access_key_id": env["AWS_ACCESS_KEY_ID"],
        "secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region": region,
    }
    secrets = [config["secret_access_key"]]
    token = env.get("AWS_SESSION_TOKEN")
    if token:
        config["session_token"] = token
        secrets.append(token)
    if endpoint_url is not None:
        config["endpoint"] = endpoint_url
    store = _build(
        where,
        lambda: S3Store(
            bucket,
            prefix=prefix or None,
            config=config,
            client_options=options,
            retry_config=_RETRY,
        ),
    )
    return ArchiveStore(
        store,
        description=_described(where, endpoint_url),
        credentials=f"{S3_CREDENTIALS} (and the bucket's policy)",
        secrets=secrets,
    )


def _open_azure(
    container: str, prefix: str, endpoint_url: str | None, options: ClientConfig
) -> ArchiveStore:
    where = f"az://{container}/{prefix}".removesuffix("/")
    if not _AZURE_CONTAINER.fullmatch(container):
        raise ValueError(
            f"archive url {where!r}: {container!r} is not a container name (3 to 63 lowercase "
            "letters, digits and single hyphens)"
        )
    config, endpoint, secrets = _azure_credentials(where)
    endpoint = endpoint_url or endpoint
    if endpoint is not None:
        config["endpoint"] = endpoint
        if urlsplit(endpoint).scheme.lower() == "http":
            options["allow_http"] = True
    store = _build(
        where,
        lambda: AzureStore(
            container,
            prefix=prefix or None,
            config=config,
            client_options=options,
            retry_config=_RETRY,
        ),
    )
    return ArchiveStore(
        store,
        description=_described(f"{where} (account {config['account_name']})", endpoint),
        credentials=AZURE_CREDENTIALS,
        secrets=secrets,
    )


def _azure_credentials(where: str) -> tuple[AzureConfig, str | None, list[str]]:
    """The account, its key or SAS token and the blob endpoint: from the connection string the
    Azure portal shows (as the Azure SDKs and CLI read it), else from the account's name and key."""
    env = os.environ
    connection = env.get("AZURE_STORAGE_CONNECTION_STRING")
    if connection:
        fields = _connection_fields(connection)
        account = fields.get("accountname")
        key = fields.get("accountkey")
        sas = fields.get("sharedaccesssignature", "").lstrip("?")
        if not account or not (key or sas):
            raise ValueError(
                f"{where}: AZURE_STORAGE_CONNECTION_STRING needs AccountName and AccountKey (or "
                "SharedAccessSignature)"
            )
        endpoint = fields.get("blobendpoint")
        suffix = fields.get("endpointsuffix")
        if endpoint is None and suffix:
            protocol = fields.get("defaultendpointsprotocol", "https")
            endpoint = f"{protocol}://{account}.blob.{suffix}"
        source = "AccountKey in AZURE_STORAGE_CONNECTION_STRING"
    else:
        account = env.get("AZURE_STORAGE_ACCOUNT_NAME")
        key = env.get("AZURE_STORAGE_ACCOUNT_KEY")
        sas, endpoint, source = "", None, "AZURE_STORAGE_ACCOUNT_KEY"
        if not account or not key:
            raise ValueError(f"{where} needs credentials: set {AZURE_CREDENTIALS}")
    if key:
        try:
            binascii.a2b_base64(key.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError(
                f"{where}: {source} is not an account key (base64, as the portal shows it)"
            ) from None
        config: AzureConfig = {
            "account_name": account,
            "account_key": key,
            "credential_type": "access_key",
        }
        return config, endpoint, [key]
    config = {"account_name": account, "sas_key": sas, "credential_type": "sas_token"}
    return config, endpoint, [sas]


def _connection_fields(connection: str) -> dict[str, str]:
    """``Name=value;…`` pairs, names lowercased; a value may hold '=' (base64 keys do)."""
    fields = {}
    for pair in connection.split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name:
            fields[name.strip().lower()] = value.strip()
    return fields


def _client_options(endpoint_url: str | None) -> ClientConfig:
    options: ClientConfig = {"connect_timeout": "10s", "timeout": "120s"}
    if endpoint_url is None:
        return options
    parts = urlsplit(endpoint_url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"endpoint_url {_shown(endpoint_url)!r} is not a server address: write http:// or "
            "https:// and a host, such as http://127.0.0.1:9000"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError("endpoint_url holds credentials: put them in the environment")
    if parts.scheme.lower() == "http":
        options["allow_http"] = True
    return options


def _build(where: str, build: Callable[[], ObjectStore]) -> ObjectStore:
    try:
        return build()
    except (BaseError, ValueError) as exc:
        said = str(exc).split("\n\nDebug source", 1)[0]
        raise ValueError(f"cannot open {where}: {' '.join(said.split())}") from None


def _described(where: str, endpoint: str | None) -> str:
    return where if endpoint is None else f"{where} at {_shown(endpoint)}"


def _shown(url: str) -> str:
    """``url`` without user information, query or fragment (where secrets would sit)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url
