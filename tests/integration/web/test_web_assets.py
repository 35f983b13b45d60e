"""The dashboard's own files under /assets: open to all, only those named, and Chart.js exactly
as its README says it was copied from the npm package."""

from __future__ import annotations

import hashlib
import re

import httpx

from tikrelay.web.assets import FILES, STATIC


def test_the_vendored_chart_library_matches_its_readme() -> None:
    readme = (STATIC / "chartjs" / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"\| `([^`]+)` \| `([0-9a-f]{64})` \|", readme))
    assert set(listed) == {"chart.umd.min.js", "LICENSE.md"}
    for name, digest in listed.items():
        assert hashlib.sha256((STATIC / "chartjs" / name).read_bytes()).hexdigest() == digest
    assert "Chart.js v4.6.1" in (STATIC / "chartjs" / "chart.umd.min.js").read_text()[:200]


async def test_assets_are_open_and_only_the_named_ones(stranger: httpx.AsyncClient) -> None:
    contents = {name: (STATIC / file).read_bytes() for name, (file, _) in FILES.items()}
    for name, (_, media_type) in FILES.items():
        answer = await stranger.get(f"/assets/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == media_type
        assert answer.content == contents[name]
    for name in ("chartjs/README.md", "../app.py", "chartjs/LICENSE.md", "swagger-ui/x.js"):
        assert (await stranger.get(f"/assets/{name}")).status_code in (401, 404), name
