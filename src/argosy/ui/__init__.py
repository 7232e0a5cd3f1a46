"""The web UI: a single-page application (React + TypeScript, built from ``ui/`` with npm into
``static/``) served by ``argosy server`` beside the API. It talks only to the public API
(``/api/v1`` and the application stream), so this package holds no logic: it finds the built files
and mounts them.

Layer 5 (beside ``argosy.api``): imports Starlette/FastAPI and the standard library only.

* ``/assets/*`` are content-hashed by the build, so they are cached for a year (``immutable``);
* every other GET that is not under ``/api/`` or ``/auth/`` answers ``index.html`` (``no-cache``),
  so client-side routes such as ``/applications/guestbook`` survive a reload;
* when the UI was not built, those routes answer 503 with a message saying how to build it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request  # FastAPI reads the annotation at runtime
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ASSET_CACHE", "INDEX_CACHE", "mount_ui", "static_dir", "ui_built"]

ASSET_CACHE = "public, max-age=31536000, immutable"
INDEX_CACHE = "no-cache"
_RESERVED = ("api/", "auth/")


def static_dir() -> Path:
    """The directory holding the built UI (``index.html`` and ``assets/``); it may be empty."""
    return Path(__file__).resolve().parent / "static"


def ui_built(directory: Path | None = None) -> bool:
    return ((directory or static_dir()) / "index.html").is_file()


def _inside(base: Path, candidate: Path) -> bool:
    try:
        candidate.resolve().relative_to(base.resolve())
    except ValueError:
        return False
    return True


def mount_ui(app: FastAPI, directory: Path | None = None) -> None:
    """Serve the SPA from ``directory`` (default :func:`static_dir`). Call after the API routes are
    added: the catch-all route answers only what no earlier route matched."""
    root = directory or static_dir()

    async def serve(request: Request) -> Response:
        path = request.path_params.get("path", "")
        if any(path.startswith(p) or path == p.rstrip("/") for p in _RESERVED):
            return JSONResponse({"error": "not found", "code": 5, "message": "not found"}, status_code=404)
        if path.startswith("assets/"):
            file = root / path
            if _inside(root / "assets", file) and file.is_file():
                return FileResponse(file, headers={"Cache-Control": ASSET_CACHE})
            return PlainTextResponse("not found", status_code=404)
        index = root / "index.html"
        if not index.is_file():
            return PlainTextResponse(
                "The web UI is not built. Run `npm ci && npm run build` in ui/ (scripts/lib.sh ensure_ui).",
                status_code=503,
            )
        file = root / path
        if path and "/" not in path and _inside(root, file) and file.is_file():
            return FileResponse(file, headers={"Cache-Control": INDEX_CACHE})
        return FileResponse(index, headers={"Cache-Control": INDEX_CACHE}, media_type="text/html")

    app.add_api_route("/{path:path}", serve, methods=["GET", "HEAD"], include_in_schema=False)
