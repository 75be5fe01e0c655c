"""The search preview page at `/`: three static files served from `search_api/static/`
(I/O: reads them once, at import).

The page calls the API from the browser with a key the user pastes; it needs no key to load.
Its Content-Security-Policy allows nothing but this origin, so it cannot load anything from
elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

routes = web.RouteTableDef()
STATIC = Path(__file__).parent / "static"
TYPES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
FILES = {name: (STATIC / name).read_bytes() for name in TYPES}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(name: str) -> web.Response:
    return web.Response(body=FILES[name], content_type=TYPES[name], charset="utf-8",
                        headers=HEADERS)


@routes.get("/")
async def page(request: web.Request) -> web.Response:
    return _file("index.html")


@routes.get("/preview/{name}")
async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in TYPES or name == "index.html":
        raise web.HTTPNotFound(text=f"no preview file {name!r}")
    return _file(name)
