"""A bare aiohttp WhatsApp webhook: the yardstick for the WhatsApp rounds of `make bench`.

POST /wa/webhook checks the X-Hub-Signature-256 HMAC, decodes the JSON, answers 200 and then, in
the background, sends one interactive message ("echo", one reply button) per message to the
Graph API; GET /healthz. No database, no state, no logging per request: what a webhook costs
before any of Jaring's work (the ack latency floor on this machine, measured in the same run).

    python -m bench.wa_echo --api http://127.0.0.1:8082 --port 8091 \
        --token T --phone-id 106540352242922 --secret S
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json

import aiohttp
from aiohttp import web


def build_app(api: str, token: str, phone_id: str, secret: str) -> web.Application:
    key = secret.encode()
    url = f"{api.rstrip('/')}/v23.0/{phone_id}/messages"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    tasks: set[asyncio.Task] = set()
    state: dict[str, aiohttp.ClientSession] = {}

    async def send(to: str) -> None:
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "echo"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "e", "title": "echo"}}]},
            },
        }
        async with state["http"].post(url, data=json.dumps(body), headers=headers) as r:
            await r.read()

    async def webhook(request: web.Request) -> web.Response:
        raw = await request.read()
        given = request.headers.get("X-Hub-Signature-256", "")
        want = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, want):
            return web.Response(status=403)
        data = json.loads(raw)
        for entry in data.get("entry", []):
            for change in entry.get("changes", []):
                for m in change.get("value", {}).get("messages", []):
                    task = asyncio.create_task(send(m["from"]))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        return web.Response(text="ok")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def on_startup(app: web.Application) -> None:
        state["http"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))

    async def on_cleanup(app: web.Application) -> None:
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await state["http"].close()

    app = web.Application()
    app.router.add_post("/wa/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="bare aiohttp WhatsApp webhook (bench yardstick)")
    p.add_argument("--api", required=True, help="Graph API base URL")
    p.add_argument("--token", required=True)
    p.add_argument("--phone-id", required=True)
    p.add_argument("--secret", required=True, help="the app secret the POSTs are signed with")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    app = build_app(args.api, args.token, args.phone_id, args.secret)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
