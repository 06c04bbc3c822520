"""`/docs`: the API reference drawn on the server from the app's own OpenAPI document —
every route with its summary, description, parameters and responses, and a link to
`/openapi.json` — so the service's documentation, like the dashboard, loads nothing from
another site (FastAPI's Swagger UI and ReDoc pages load their scripts from a CDN; the app
turns them off)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from remit.dashboard.web import HEADERS, env

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/docs")
def api_docs(request: Request) -> HTMLResponse:
    doc = request.app.openapi()
    routes = []
    for path, ops in sorted(doc.get("paths", {}).items()):
        for method in METHODS:
            op = ops.get(method)
            if op is None:
                continue
            routes.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": op.get("parameters", []),
                    "body": "requestBody" in op,
                    "responses": sorted(op.get("responses", {}).items()),
                    "secured": bool(op.get("security")),
                }
            )
    html = env.get_template("apidocs.html").render(
        info=doc.get("info", {}), routes=routes, who=None, path="/docs"
    )
    return HTMLResponse(html, headers=HEADERS)
