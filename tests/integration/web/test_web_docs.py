"""``/docs`` is Swagger UI from the package's own files: nothing from a CDN, and the files are the
ones its README names, byte for byte."""

from __future__ import annotations

import hashlib
import re

import httpx

from tikrelay.web.docs import SWAGGER_DIR, SWAGGER_FILES


async def test_the_page_loads_only_local_files(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(linked) == [
        "/assets/swagger-ui/favicon-32x32.png",
        "/assets/swagger-ui/swagger-ui-bundle.js",
        "/assets/swagger-ui/swagger-ui.css",
    ]
    assert "url: '/openapi.json'" in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    for name in SWAGGER_FILES:
        asset = await client.get(f"/assets/swagger-ui/{name}")
        assert asset.status_code == 200, name
        assert asset.content == (SWAGGER_DIR / name).read_bytes()
        assert asset.headers["content-type"] == SWAGGER_FILES[name]


async def test_only_the_named_files_are_served(client: httpx.AsyncClient) -> None:
    for name in ("README.md", "LICENSE", "..%2F..%2Fapp.py", "nope.js"):
        assert (await client.get(f"/assets/swagger-ui/{name}")).status_code == 404, name


def test_the_files_are_those_the_readme_names() -> None:
    readme = (SWAGGER_DIR / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", readme, re.MULTILINE))
    assert set(listed) == set(SWAGGER_FILES)
    for name, digest in listed.items():
        assert hashlib.sha256((SWAGGER_DIR / name).read_bytes()).hexdigest() == digest, name
    assert (SWAGGER_DIR / "LICENSE").exists()
    assert (SWAGGER_DIR / "NOTICE").exists()


async def test_the_openapi_document_describes_the_api(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "tikrelay"
    assert set(document["paths"]) == {
        "/healthz",
        "/readyz",
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/retry",
        "/api/jobs/{job_id}/cancel",
        "/api/sources",
        "/api/sources/{id}",
        "/api/sources/{id}/poll",
        "/api/destinations",
        "/api/destinations/{name}",
        "/api/posts",
        "/api/deliveries",
        "/api/stats",
        "/api/requests",
        "/api/settings",
        "/api/logs",
        "/metrics",
    }
