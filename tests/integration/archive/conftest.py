"""Archive storage fixtures: moto's S3 server and Azurite, started once per session on free
ports of 127.0.0.1 (only when a test asks for them), a fresh bucket or container per test, and
``archive``: the same tests on a local folder, on S3 and on Azure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.storage_servers import (
    CREDENTIAL_VARIABLES,
    ServerMissingError,
    StorageServer,
    azure_environment,
    create_bucket,
    create_container,
    s3_environment,
    start_azurite,
    start_moto,
    unique_name,
)
from tikrelay.archive import ArchiveStore, open_archive

TARGETS = ("folder", "s3", "azure")


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("storage-servers")


@pytest.fixture(scope="session")
def moto(servers_dir: Path) -> Iterator[StorageServer]:
    server = start_moto(servers_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_strict(servers_dir: Path) -> Iterator[StorageServer]:
    server = start_moto(servers_dir, strict=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite(servers_dir: Path) -> Iterator[StorageServer]:
    try:
        server = start_azurite(servers_dir)
    except ServerMissingError as exc:
        missing = str(exc)
    else:
        yield server
        server.stop()
        return
    # A missing emulator is a broken checkout, not a reason to skip the Azure tests.
    pytest.fail(missing, pytrace=False)


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials come only from what a test sets, never from the machine's environment."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_bucket(moto: StorageServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket in moto, with the environment holding credentials for it."""
    for name, value in s3_environment().items():
        monkeypatch.setenv(name, value)
    bucket = unique_name()
    create_bucket(moto, bucket)
    return bucket


@pytest.fixture
def azure_container(azurite: StorageServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh container in Azurite, with the environment holding its account's name and key."""
    for name, value in azure_environment().items():
        monkeypatch.setenv(name, value)
    container = unique_name()
    create_container(azurite, container)
    return container


@pytest.fixture(params=TARGETS)
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveStore:
    """An empty archive: a folder, a prefix in an S3 bucket, a prefix in an Azure container."""
    target: str = request.param
    if target == "folder":
        return open_archive(path=tmp_path / "archive")
    if target == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        server: StorageServer = request.getfixturevalue("moto")
        return open_archive(url=f"s3://{bucket}/archive/root", endpoint_url=server.endpoint)
    container = request.getfixturevalue("azure_container")
    server = request.getfixturevalue("azurite")
    return open_archive(url=f"az://{container}/archive/root", endpoint_url=server.endpoint)


@pytest.fixture(scope="session")
def twelve_mib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 MiB of random bytes: more than two upload parts."""
    path = tmp_path_factory.mktemp("payload") / "video.mp4"
    path.write_bytes(os.urandom(12 * 1024 * 1024))
    return path
