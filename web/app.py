"""The aiohttp app: health check, a plain landing page, and the channels' webhook routes
(registered by the adapters). The staff dashboard will live under `/`."""
from __future__ import annotations

import logging

from aiohttp import web

log = logging.getLogger("jaring.web")
RUNTIME = web.AppKey("runtime", object)


@web.middleware
async def no_traces(request: web.Request, handler):
    """Unexpected errors become a plain 500; the trace goes to the log, never to the client."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001
        log.error("request to %s failed: %s", request.path, type(exc).__name__, exc_info=exc)
        return web.json_response({"error": "internal error"}, status=500)


def build_app(runtime) -> web.Application:
    app = web.Application(middlewares=[no_traces], client_max_size=2 * 1024 * 1024)
    app[RUNTIME] = runtime

    async def healthz(request: web.Request) -> web.Response:
        try:
            ok = await runtime.db.ping()
        except Exception as exc:  # noqa: BLE001
            log.error("health check: database unreachable (%s)", type(exc).__name__)
            ok = False
        body = {"status": "ok" if ok else "error", "database": ok,
                "channels": sorted(runtime.outbox.transports)}
        return web.json_response(body, status=200 if ok else 503)

    async def index(request: web.Request) -> web.Response:
        office = runtime.programs.office
        return web.Response(text=f"Jaring — layanan chat {office}.\n/healthz\n",
                            content_type="text/plain")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    return app
