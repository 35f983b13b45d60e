"""Opening an archive: configuration mistakes are ValueErrors that name what to fix, and never
repeat a secret. Opening sends no request, so no server is needed here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.storage_servers import azure_environment, s3_environment
from tikrelay.archive import open_archive


def _set(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "exactly one of path"),
        ({"path": "/tmp/a", "url": "s3://bucket/p"}, "exactly one of path"),
        ({"path": "/tmp/a", "endpoint_url": "http://127.0.0.1:9"}, "endpoint_url goes with url"),
        ({"url": "gs://bucket/p"}, r"'gs://bucket/p' is not supported: write s3://BUCKET"),
        ({"url": "https://acct.blob.core.windows.net/c"}, "is not supported"),
        ({"url": "bucket/prefix"}, "is not supported"),
        ({"url": "s3://"}, "names no bucket"),
        ({"url": "s3:///prefix"}, "names no bucket"),
        ({"url": "az://"}, "names no container"),
        ({"url": "s3://My_Bucket/p"}, "'My_Bucket' is not a bucket name"),
        ({"url": "s3://ab/p"}, "'ab' is not a bucket name"),
        ({"url": "az://double--hyphen/p"}, "is not a container name"),
        ({"url": "s3://bucket:9000/p"}, "has a port, query or fragment"),
        ({"url": "s3://bucket/p?versionId=1"}, "has a port, query or fragment"),
        ({"url": "s3://bucket/a/../b"}, "has a bad prefix"),
        ({"url": "s3://bucket/a//b"}, "has a bad prefix"),
        ({"url": "s3://bucket/p", "endpoint_url": "ftp://127.0.0.1"}, "is not a server address"),
        ({"url": "s3://bucket/p", "endpoint_url": "127.0.0.1:9000"}, "is not a server address"),
    ],
)
def test_mistakes_are_named(
    arguments: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set(monkeypatch, {**s3_environment(), **azure_environment()})
    with pytest.raises(ValueError, match=message):
        open_archive(**arguments)


@pytest.mark.parametrize(
    ("url", "endpoint_url"),
    [
        ("s3://user:hunter2secret@bucket/p", None),
        ("s3://bucket/p", "http://user:hunter2secret@127.0.0.1:9000"),
    ],
)
def test_credentials_in_addresses_are_refused_without_repeating_them(
    url: str, endpoint_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set(monkeypatch, s3_environment())
    with pytest.raises(ValueError, match="holds credentials") as caught:
        open_archive(url=url, endpoint_url=endpoint_url)
    assert "hunter2secret" not in str(caught.value)


def test_s3_needs_both_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY$"):
        open_archive(url="s3://bucket/p", endpoint_url="http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-id")
    with pytest.raises(ValueError, match=r"needs credentials: set AWS_SECRET_ACCESS_KEY$"):
        open_archive(url="s3://bucket/p", endpoint_url="http://127.0.0.1:9")


def test_aws_needs_a_region_and_other_servers_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _set(monkeypatch, s3_environment())
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ValueError, match="set AWS_DEFAULT_REGION"):
        open_archive(url="s3://bucket/p")
    assert open_archive(url="s3://bucket/p", endpoint_url="http://127.0.0.1:9").describe() == (
        "s3://bucket/p at http://127.0.0.1:9"
    )
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert open_archive(url="S3://bucket/p/").describe() == "s3://bucket/p"


def test_azure_needs_a_connection_string_or_an_account_and_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = (
        "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME and "
        "AZURE_STORAGE_ACCOUNT_KEY"
    )
    with pytest.raises(ValueError, match=expected):
        open_archive(url="az://container/p")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "account")
    with pytest.raises(ValueError, match=expected):
        open_archive(url="az://container/p")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "not base64 at all: hunter2secret")
    with pytest.raises(ValueError, match="AZURE_STORAGE_ACCOUNT_KEY is not an account key") as bad:
        open_archive(url="az://container/p")
    assert "hunter2secret" not in str(bad.value)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=account;Foo=bar")
    with pytest.raises(ValueError, match="needs AccountName and AccountKey"):
        open_archive(url="az://container/p")


def test_an_azure_connection_string_gives_account_and_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = azure_environment()["AZURE_STORAGE_ACCOUNT_KEY"]
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        f"DefaultEndpointsProtocol=https;AccountName=myaccount;AccountKey={key};"
        "EndpointSuffix=core.chinacloudapi.cn",
    )
    archive = open_archive(url="az://container/vault")
    assert archive.describe() == (
        "az://container/vault (account myaccount) at https://myaccount.blob.core.chinacloudapi.cn"
    )
    assert key not in repr(archive)


def test_a_folder_is_created_and_a_file_is_refused(tmp_path: Path) -> None:
    archive = open_archive(path=tmp_path / "new" / "archive")
    assert (tmp_path / "new" / "archive").is_dir()
    assert archive.describe() == str(tmp_path / "new" / "archive")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ValueError, match="is not a folder"):
        open_archive(path=tmp_path / "file")
