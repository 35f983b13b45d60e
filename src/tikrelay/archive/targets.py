"""Opening an archive destination's storage from its settings: a local folder, ``s3://`` or
``az://`` URLs with credentials from the environment. Opening sends no request; configuration
mistakes raise ``ValueError`` naming what to fix, never showing a secret."""

from __future__ import annotations

import binascii
import os
import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from obstore.exceptions import BaseError
from obstore.store import AzureStore, LocalStore, S3Store

from tikrelay.archive.storage import STAGING, ArchiveStore, check_key

if TYPE_CHECKING:
    from obstore.store import AzureConfig, ClientConfig, ObjectStore, RetryConfig, S3Config

#: Staging files untouched for this long belong to a writer that died; younger ones may be live.
STALE_AFTER = timedelta(minutes=15)

S3_CREDENTIALS = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
AZURE_CREDENTIALS = (
    "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY"
)

_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_AZURE_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")

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
