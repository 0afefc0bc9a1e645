"""A bare aiogram 3 echo bot in webhook mode: the yardstick `make bench` compares Jaring with.

aiogram's own webhook server (`SimpleRequestHandler` + `setup_application`), `Dispatcher()`
defaults, one catch-all handler for messages and one for callback queries, each sending one
message ("echo") back to the chat through the given Bot API server. Nothing else: no database,
no state, no logging per update.

    python -m bench.echo_bot --api http://127.0.0.1:8081 --port 8090 \
        --webhook-url https://bench.example/tg/webhook --secret s3cret [--token 42:TEST]

Serves POST /tg/webhook (the secret is checked by aiogram) and GET /healthz; sets its webhook at
start-up. Stops on SIGTERM / SIGINT.

    python -m bench.echo_bot --api http://127.0.0.1:8081 --port 8090 --polling

Long polling instead: aiogram's own `Dispatcher.start_polling` with its defaults (updates
handled as tasks), after deleteWebhook; GET /healthz is still served on --port.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

WEBHOOK_PATH = "/tg/webhook"


def build_dispatcher() -> Dispatcher:
    dp = Dispatcher()

    @dp.message()
    async def on_message(message: Message, bot: Bot) -> None:
        await bot.send_message(message.chat.id, "echo")

    @dp.callback_query()
    async def on_callback(cq: CallbackQuery, bot: Bot) -> None:
        chat_id = cq.message.chat.id if cq.message is not None else cq.from_user.id
        await bot.send_message(chat_id, "echo")

    return dp


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(api: str, token: str, webhook_url: str, secret: str) -> web.Application:
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
    dp = build_dispatcher()

    async def on_startup(bot: Bot) -> None:
        await bot.set_webhook(webhook_url, secret_token=secret)

    dp.startup.register(on_startup)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    SimpleRequestHandler(dp, bot, secret_token=secret).register(app, path=WEBHOOK_PATH)
    setup_application(app, dp, bot=bot)
    return app


async def run_polling(api: str, token: str, host: str, port: int) -> None:
    """aiogram's long polling with its defaults, and /healthz on the side."""
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
    dp = build_dispatcher()
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        await dp.start_polling(bot)  # handles SIGTERM / SIGINT itself
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="bare aiogram echo bot (webhook)")
    p.add_argument("--api", required=True, help="Bot API server base URL")
    p.add_argument("--token", default="42:TEST")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--webhook-url")
    p.add_argument("--secret")
    p.add_argument("--polling", action="store_true", help="long polling instead of the webhook")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.polling:
        asyncio.run(run_polling(args.api, args.token, args.host, args.port))
        return
    if not (args.webhook_url and args.secret):
        p.error("--webhook-url and --secret are required without --polling")
    app = build_app(args.api, args.token, args.webhook_url, args.secret)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
