"""``/assets/…``: the dashboard's own style sheet, script, icon, placeholder picture and
Chart.js (copied unchanged from its npm package, see ``static/chartjs/README.md``). Open to all:
the login page needs the style sheet before anyone is logged in, and none of them holds
anything of this installation. Only the files named here are served."""

from __future__ import annotations

from pathlib import Path as FilePath

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC = FilePath(__file__).parent / "static"
#: URL path under /assets → (file under static/, media type).
FILES = {
    "site.css": ("site.css", "text/css; charset=utf-8"),
    "dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "placeholder.svg": ("placeholder.svg", "image/svg+xml"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
    "chartjs/chart.umd.min.js": ("chartjs/chart.umd.min.js", "text/javascript; charset=utf-8"),
}

router = APIRouter(include_in_schema=False)


@router.get("/assets/{name:path}")
def asset(name: str) -> FileResponse:
    found = FILES.get(name)
    if found is None:
        raise HTTPException(404, detail=f"no asset {name!r}")
    file, media_type = found
    # Revalidated each time (ETag, Last-Modified): an upgrade of tikrelay is seen at once.
    return FileResponse(
        STATIC / file,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
