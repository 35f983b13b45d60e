"""S3 and Azure specifics: prefixes, multipart uploads, credentials, and the errors a job sees
when a server is unreachable, refuses the credentials or has no such bucket."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import obstore
import pytest
from obstore.store import S3Store

from tests.support.storage_servers import (
    AZURITE_KEY,
    S3_SECRET,
    StorageServer,
    azure_connection_string,
    azure_environment,
    azurite_account_sas,
    free_port,
    s3_environment,
    unique_name,
)
from tikrelay.archive import ArchiveStore, open_archive
from tikrelay.domain.errors import ErrorKind, TikrelayError

#: A well-formed (base64) key that is not the account's.
WRONG_AZURE_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="


def _failure(call: Callable[[], object]) -> TikrelayError:
    with pytest.raises(TikrelayError) as caught:
        call()
    return caught.value


def _every_call_fails(archive: ArchiveStore, tmp_path: Path) -> list[TikrelayError]:
    source = tmp_path / "video.mp4"
    source.write_bytes(b"video")
    calls: list[Callable[[], object]] = [
        lambda: archive.put_bytes("post/metadata.json", b"{}"),
        lambda: archive.put_file("post/video.mp4", source),
        lambda: archive.exists("post/metadata.json"),
        lambda: archive.read_bytes("post/metadata.json"),
        lambda: list(archive.list("post/")),
        lambda: archive.delete(["post/video.mp4"]),
    ]
    return [_failure(call) for call in calls]


@pytest.mark.parametrize("scheme", ["s3", "az"])
def test_the_url_prefix_is_the_archive_root(
    scheme: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if scheme == "s3":
        name, server = request.getfixturevalue("s3_bucket"), request.getfixturevalue("moto")
    else:
        name = request.getfixturevalue("azure_container")
        server = request.getfixturevalue("azurite")
    inner = open_archive(url=f"{scheme}://{name}/archives/vault/", endpoint_url=server.endpoint)
    whole = open_archive(url=f"{scheme}://{name}", endpoint_url=server.endpoint)
    inner.put_bytes("post/metadata.json", b"{}")

    assert [s.key for s in whole.list("")] == ["archives/vault/post/metadata.json"]
    assert [s.key for s in inner.list("")] == ["post/metadata.json"]
    assert inner.describe().startswith(f"{scheme}://{name}/archives/vault")


def test_large_files_go_up_to_s3_in_parts(
    s3_bucket: str, moto: StorageServer, twelve_mib: Path
) -> None:
    archive = open_archive(url=f"s3://{s3_bucket}/p", endpoint_url=moto.endpoint)
    archive.put_file("video.mp4", twelve_mib)
    archive.put_bytes("metadata.json", b"{}")

    # The archive shows no ETags: ask the server through obstore itself.
    raw = S3Store(
        s3_bucket,
        endpoint=moto.endpoint,
        region="us-east-1",
        access_key_id="any",
        secret_access_key="any",
        client_options={"allow_http": True},
    )

    def etag(key: str) -> str:
        return str(obstore.head(raw, f"p/{key}")["e_tag"])

    # A completed multipart upload's ETag ends in the number of parts: 5 + 5 + 2 MiB.
    assert etag("video.mp4").strip('"').endswith("-3")
    assert "-" not in etag("metadata.json")  # one plain PUT


@pytest.mark.parametrize("scheme", ["s3", "az"])
def test_an_unreachable_server_is_a_retryable_network_error(
    scheme: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment = s3_environment() if scheme == "s3" else azure_environment()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    closed = f"http://127.0.0.1:{free_port()}" + ("" if scheme == "s3" else "/devstoreaccount1")
    archive = open_archive(url=f"{scheme}://somewhere/archive", endpoint_url=closed)

    started = time.monotonic()
    failures = _every_call_fails(archive, tmp_path)
    assert time.monotonic() - started < 30  # a few quick retries each, not obstore's 3 minutes
    for failure in failures:
        assert failure.kind is ErrorKind.NETWORK
        assert failure.retryable is True
        assert archive.describe() in failure.message
        assert S3_SECRET not in str(failure)
        assert AZURITE_KEY not in str(failure)
        assert failure.__cause__ is None


def test_wrong_s3_credentials_are_an_auth_error_naming_the_variables(
    moto_strict: StorageServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in s3_environment().items():
        monkeypatch.setenv(name, value)
    archive = open_archive(url=f"s3://{unique_name()}/archive", endpoint_url=moto_strict.endpoint)
    for failure in _every_call_fails(archive, tmp_path):
        assert failure.kind is ErrorKind.AUTH
        assert failure.retryable is False
        assert failure.http_status == 403
        assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in failure.message
        assert S3_SECRET not in str(failure)


def test_a_wrong_azure_key_is_an_auth_error_naming_the_variables(
    azure_container: str,
    azurite: StorageServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", WRONG_AZURE_KEY)
    archive = open_archive(url=f"az://{azure_container}/archive", endpoint_url=azurite.endpoint)
    for failure in _every_call_fails(archive, tmp_path):
        assert failure.kind is ErrorKind.AUTH
        assert failure.retryable is False
        assert "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY" in failure.message
        assert WRONG_AZURE_KEY not in str(failure)


@pytest.mark.parametrize("scheme", ["s3", "az"])
def test_a_missing_bucket_or_container_is_said_so(
    scheme: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if scheme == "s3":
        server: StorageServer = request.getfixturevalue("moto")
        environment = s3_environment()
    else:
        server = request.getfixturevalue("azurite")
        environment = azure_environment()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    archive = open_archive(url=f"{scheme}://{unique_name()}/archive", endpoint_url=server.endpoint)
    for call in (lambda: archive.put_bytes("a.json", b"{}"), lambda: list(archive.list(""))):
        failure = _failure(call)
        assert failure.kind is ErrorKind.UNSUPPORTED
        assert failure.retryable is False
        assert "does not exist" in failure.message


def test_an_azure_connection_string_is_all_it_takes(
    azure_container: str, azurite: StorageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME")
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_KEY")
    connection = azure_connection_string(azurite.endpoint, key=AZURITE_KEY)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    archive = open_archive(url=f"az://{azure_container}/vault")  # the endpoint comes with it
    archive.put_bytes("post/metadata.json", b"{}")
    assert archive.read_bytes("post/metadata.json") == b"{}"
    assert azurite.endpoint in archive.describe()
    assert AZURITE_KEY not in repr(archive)


def test_an_azure_sas_token_works(
    azure_container: str, azurite: StorageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = azure_connection_string(azurite.endpoint, sas=azurite_account_sas())
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    archive = open_archive(url=f"az://{azure_container}/vault")
    archive.put_bytes("post/metadata.json", b"{}")
    assert archive.exists("post/metadata.json")
    assert archive.read_bytes("post/metadata.json") == b"{}"
    assert [s.key for s in archive.list("")] == ["post/metadata.json"]
    # Not delete: Azurite answers 500 to a blob batch (obstore's way to delete) under a SAS.


def test_a_sas_token_never_shows(
    azure_container: str, azurite: StorageServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    signature = "NotTheRealSignatureButSecretAll0fTheSame%3D"
    sas = f"sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&sig={signature}"
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", azure_connection_string(azurite.endpoint, sas=sas)
    )
    archive = open_archive(url=f"az://{azure_container}/vault")
    assert signature not in repr(archive)
    assert signature not in archive.describe()
    for failure in _every_call_fails(archive, tmp_path):
        assert failure.kind is ErrorKind.AUTH  # Azurite does not know this signature
        assert signature not in str(failure)
        assert "NotTheRealSignature" not in str(failure)


@pytest.mark.parametrize("scheme", ["s3", "az"])
def test_descriptions_and_reprs_hold_no_secret(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = s3_environment() if scheme == "s3" else azure_environment()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    archive = open_archive(url=f"{scheme}://bucket-name/prefix", endpoint_url="http://127.0.0.1:9")
    for shown in (repr(archive), archive.describe()):
        assert f"{scheme}://bucket-name/prefix" in shown
        assert S3_SECRET not in shown
        assert AZURITE_KEY not in shown
