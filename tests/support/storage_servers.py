"""Object storage servers for the archive tests, each a child process on a free port of
127.0.0.1: moto's S3 server (lenient about credentials, or strict: then it knows no key at all)
and Azurite's blob service (from ``node_modules``, installed by ``npm ci``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import IO
from urllib.parse import urlencode, urlsplit

REPO = Path(__file__).resolve().parents[2]
AZURITE = REPO / "node_modules" / ".bin" / "azurite-blob"
#: Azurite's one built-in account and its well-known key (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_STARTUP_SECONDS = 60.0
_CONTENT_TYPE = "application/octet-stream"


class ServerMissingError(RuntimeError):
    """A server's program is not installed; the message says how to install it."""


@dataclass
class StorageServer:
    """A running server: ``endpoint`` is what ``endpoint_url`` takes."""

    name: str
    endpoint: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        port = urlsplit(self.endpoint).port
        assert port is not None
        return port

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (now); also what a closed port is."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_moto(workdir: Path, *, strict: bool = False) -> StorageServer:
    """moto's S3 server. It takes any credentials, unless ``strict``: then it checks them, and
    since it has no IAM users, refuses every key with 403 InvalidAccessKeyId."""
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0" if strict else "inf"}
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    name = "moto-strict" if strict else "moto"
    return _start(name, command, port, f"http://127.0.0.1:{port}", workdir, env)


def start_azurite(workdir: Path) -> StorageServer:
    """Azurite's blob service, keeping its data in ``workdir``; installed first with ``npm ci``
    (as package-lock.json pins it) where npm is there and Azurite is not yet."""
    npm = shutil.which("npm")
    if not AZURITE.exists() and npm is not None:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=REPO,
            check=False,
            capture_output=True,
            timeout=600,
        )
    if not AZURITE.exists():
        raise ServerMissingError(
            f"Azurite is not installed ({AZURITE} is missing): run `npm ci` at the repository "
            "root (Node.js and npm are needed)"
        )
    port = free_port()
    data = workdir / "azurite"
    data.mkdir(parents=True, exist_ok=True)
    command = [
        str(AZURITE),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(data),
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
    ]
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    return _start("azurite", command, port, endpoint, workdir, dict(os.environ))


def _start(
    name: str,
    command: list[str],
    port: int,
    endpoint: str,
    workdir: Path,
    env: dict[str, str],
) -> StorageServer:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    server = StorageServer(name, endpoint, process, log)
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{name} did not listen on port {port} in time: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def create_bucket(server: StorageServer, bucket: str) -> None:
    """A bucket in a lenient moto server (which takes an unsigned request)."""
    _send(f"{server.endpoint}/{bucket}", {})


def create_container(server: StorageServer, container: str) -> None:
    """A container in Azurite, through a request signed with the account's Shared Key."""
    url = f"{server.endpoint}/{container}?restype=container"
    headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    signed = "".join(f"{name}:{value}\n" for name, value in sorted(headers.items()))
    # Path-style (emulator) URLs put the account in the path, so it appears twice here.
    resource = f"/{AZURITE_ACCOUNT}{urlsplit(url).path}\nrestype:container"
    # The verb and eleven standard headers (Content-Length is empty when zero), then the rest.
    standard = ["PUT", "", "", "", "", _CONTENT_TYPE, "", "", "", "", "", ""]
    to_sign = "\n".join(standard) + "\n" + signed + resource
    digest = hmac.new(base64.b64decode(AZURITE_KEY), to_sign.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"SharedKey {AZURITE_ACCOUNT}:{base64.b64encode(digest).decode()}"
    headers["Content-Type"] = _CONTENT_TYPE  # or urllib would add one of its own
    _send(url, headers)


def _send(url: str, headers: dict[str, str]) -> None:
    """An empty PUT to one of the servers started here."""
    assert url.startswith("http://127.0.0.1:"), url
    request = urllib.request.Request(url, method="PUT", data=b"", headers=headers)  # noqa: S310
    response: IO[bytes]
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


#: Every variable the archive reads credentials from: a test clears them all, then sets its own.
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
)
#: A secret that must never show in an error, a description or a repr.
S3_SECRET = "s3-secret-never-shown-0123456789"


def s3_environment(*, secret: str = S3_SECRET) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "tikrelay-test-key",
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def azure_environment(*, key: str = AZURITE_KEY) -> dict[str, str]:
    return {"AZURE_STORAGE_ACCOUNT_NAME": AZURITE_ACCOUNT, "AZURE_STORAGE_ACCOUNT_KEY": key}


def azure_connection_string(
    endpoint: str, *, key: str | None = None, sas: str | None = None
) -> str:
    """A connection string as the Azure portal (or Azurite's documentation) gives it."""
    secret = f"AccountKey={key}" if sas is None else f"SharedAccessSignature={sas}"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};{secret};"
        f"BlobEndpoint={endpoint};"
    )


def azurite_account_sas(permissions: str = "rwdlac") -> str:
    """An account SAS token for Azurite's account, signed with its key, valid until 2030."""
    fields = {"sv": "2021-08-06", "ss": "b", "srt": "sco", "sp": permissions}
    fields["se"] = "2030-01-01T00:00:00Z"
    # account, permissions, services, resource types, start, expiry, IP, protocol, version,
    # encryption scope, and a final newline.
    parts = [AZURITE_ACCOUNT, permissions, "b", "sco", "", fields["se"], "", "", fields["sv"], ""]
    to_sign = "\n".join(parts) + "\n"
    digest = hmac.new(base64.b64decode(AZURITE_KEY), to_sign.encode(), hashlib.sha256).digest()
    fields["sig"] = base64.b64encode(digest).decode()
    return urlencode(fields)


def unique_name() -> str:
    """A fresh bucket or container name (valid for both)."""
    return f"test-{uuid.uuid4().hex[:20]}"
