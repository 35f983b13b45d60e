"""``/openapi.json`` and ``/docs`` (Swagger UI) behind the token, with Swagger UI's files served
from this package (``static/swagger-ui``, see its README): no page loads anything from a CDN."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from tikrelay.web.auth import require_auth

SWAGGER_DIR = FilePath(__file__).parent / "static" / "swagger-ui"
ASSETS = "/assets/swagger-ui"
#: The only files served, by name: nothing else of the folder (or outside it) can be asked for.
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

router = APIRouter(dependencies=[Depends(require_auth)], include_in_schema=False)


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="tikrelay API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        oauth2_redirect_url=None,
        # Swagger UI would otherwise send the document to an online validator for a badge.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
    )


@router.get(ASSETS + "/{name}")
def swagger_asset(name: Annotated[str, Path(max_length=40)]) -> FileResponse:
    media_type = SWAGGER_FILES.get(name)
    if media_type is None:
        raise HTTPException(404, detail=f"no asset {name!r}")
    return FileResponse(SWAGGER_DIR / name, media_type=media_type)
