#!/usr/bin/env python3
"""Jaring: composition root and command line. Wiring only.

  python bot.py run            start every configured channel and the web app
  python bot.py chat           talk to the bot in the terminal as a resident
  python bot.py migrate        create or upgrade the database schema
  python bot.py import-dtsen FILE.csv [--data-date YYYY-MM-DD] [--skip-invalid] [--reject FILE]
  python bot.py seed-demo [--households N] [--seed S] [--if-empty]
  python bot.py reports list|show|move|export ...   the verification queue (cli/reports.py)
  python bot.py rt invite|list|revoke ...           ketua RT activation codes (cli/rt.py)
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import date
from pathlib import Path

from cli import CommandError
from config import ROOT, Settings, load_settings

log = logging.getLogger("jaring")


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Per-update INFO lines from aiogram and the access log cost throughput and say nothing new.
    # pywa and httpx log recipients and request bodies at DEBUG/INFO: phone numbers stay out.
    for name in ("aiogram.event", "aiohttp.access", "aiogram.dispatcher", "alembic", "pywa",
                 "pywa_async", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


class ConfigProblem(Exception):
    pass


def load_reference(settings: Settings):
    from domain.programs import ConfigError, load_programs
    from domain.region import RegionError, load_region

    problems = []
    programs = region = None
    try:
        programs = load_programs(settings.jaring_programs)
    except ConfigError as e:
        problems.append(str(e))
    try:
        region = load_region(settings.jaring_region)
    except RegionError as e:
        problems.append(str(e))
    if problems:
        raise ConfigProblem("\n".join(problems))
    return programs, region


class Runtime:
    """Everything `run`, `chat` and the tests start: database, core, outbox, web, channels."""

    def __init__(self, settings: Settings, *, clock=None):
        from core.deps import Deps
        from core.outbox import Outbox
        from conversations.registry import JOBS, build_engine
        from core.scheduler import Scheduler
        from core.inbox import Service
        from domain.clock import utcnow
        from db.database import Database
        from web.app import build_app

        self.settings = settings
        self.programs, self.region = load_reference(settings)
        self.db = Database(settings.database_url)
        self.deps = Deps(self.programs, self.region, settings.jaring_default_locale,
                         settings.jaring_hash_key.get_secret_value().encode())
        clock = clock or utcnow
        self.clock = clock
        self.outbox = Outbox(self.db, clock=clock)
        self.service = Service(self.db, build_engine(), self.deps, self.outbox, clock=clock)
        self.scheduler = Scheduler(self.db, self.deps, self.outbox, clock=clock, jobs=JOBS)
        self.web = build_app(self)
        from web.simulator import WebTransport

        self.outbox.register(WebTransport())  # the dashboard's simulator: kept in memory only
        self.telegram = None
        if settings.telegram_enabled:
            from handlers.telegram import TelegramChannel

            self.telegram = TelegramChannel(settings, self.service.receive, db=self.db)
            self.outbox.register(self.telegram.transport)
            if settings.telegram_webhook_url:
                self.telegram.register_routes(self.web)
        self.whatsapp = None
        if settings.whatsapp_enabled:
            from handlers.whatsapp import WhatsAppChannel

            self.whatsapp = WhatsAppChannel(settings, self.service.receive, db=self.db,
                                            outbox=self.outbox, clock=clock)
            self.outbox.register(self.whatsapp.transport)
            self.whatsapp.register_routes(self.web)
        self._runner = None

    async def start(self, *, web: bool = True) -> None:
        from aiohttp import web as aioweb

        await self.db.ping()
        if web:
            self._runner = aioweb.AppRunner(self.web, access_log=None)
            await self._runner.setup()
            site = aioweb.TCPSite(self._runner, self.settings.web_host, self.settings.web_port)
            await site.start()
        await self.outbox.start()
        await self.service.recover()
        await self.scheduler.start()
        if self.telegram:
            await self.telegram.start(self.web)
        if self.whatsapp:
            await self.whatsapp.start()

    async def stop(self) -> None:
        if self.telegram:
            await self.telegram.stop_receiving()
        if self._runner:
            await self._runner.cleanup()
        if self.whatsapp:
            await self.whatsapp.stop_receiving()
        await self.service.idle()
        await self.scheduler.stop()
        await self.outbox.stop()
        if self.telegram:
            await self.telegram.stop()  # closes the HTTP session the outbox sends through
        if self.whatsapp:
            await self.whatsapp.stop()
        await self.db.dispose()


# --- commands ------------------------------------------------------------------------------

async def cmd_run(settings: Settings, console_fallback: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rt = Runtime(settings)
    if rt.programs.placeholders():
        log.warning("programs.toml still has placeholders to replace before launch: %s",
                    ", ".join(rt.programs.placeholders()))
    await rt.start()
    where = f"http://{settings.web_host}:{settings.web_port}"
    if rt.whatsapp:
        log.info("WhatsApp is on: webhook at %s/wa/webhook", where)
    if rt.telegram:
        mode = "webhook" if settings.telegram_webhook_url else "polling"
        log.info("Jaring is running: Telegram (%s), web app at %s", mode, where)
    else:
        print(f"TELEGRAM_BOT_TOKEN is not set, so Telegram is off; web app at {where}"
              + ("; starting the terminal chat." if console_fallback else "."), flush=True)
    print(f"Staff dashboard: {where}/ (accounts: python bot.py staff add ...; the demo seed "
          f"prints a demo admin login); chat as a resident at {where}/simulator", flush=True)
    try:
        if console_fallback and not rt.telegram:
            from handlers.console import ConsoleTransport, run_console

            rt.outbox.register(ConsoleTransport())
            chat = asyncio.create_task(run_console(rt.service, rt.outbox))
            done, _ = await asyncio.wait([chat, asyncio.create_task(stop.wait())],
                                         return_when=asyncio.FIRST_COMPLETED)
        else:
            await stop.wait()
    finally:
        await rt.stop()
    return 0


async def cmd_chat(settings: Settings, user: str) -> int:
    from handlers.console import ConsoleTransport, run_console

    rt = Runtime(settings.model_copy(update={"telegram_bot_token": None, "whatsapp_token": None}))
    rt.outbox.register(ConsoleTransport())
    await rt.start(web=False)
    try:
        await run_console(rt.service, rt.outbox, user=user)
    finally:
        await rt.stop()
    return 0


async def cmd_import(settings: Settings, args) -> int:
    from db.database import Database
    from db.dtsen_import import import_dtsen

    programs, region = load_reference(settings)
    db = Database(settings.database_url)
    try:
        report = await import_dtsen(
            db, Path(args.file), region=region, programs=programs,
            data_date=args.data_date or date.today(), skip_invalid=args.skip_invalid,
            reject_path=Path(args.reject) if args.reject else None, progress=sys.stderr.isatty())
    finally:
        await db.dispose()
    for err in report.errors:
        print(err, file=sys.stderr)
    if not report.imported:
        print(f"\nTidak ada yang diimpor: {len(report.errors)} kesalahan pada "
              f"{report.rows_rejected} baris. Perbaiki lalu ulangi, atau pakai --skip-invalid.",
              file=sys.stderr)
        return 1
    print(f"Impor selesai: {report.rows_imported} baris, {report.households} KK "
          f"({report.people_new} orang baru, {report.people_updated} diperbarui), "
          f"{report.rows_rejected} baris ditolak, {report.seconds:.1f} detik.")
    if report.reject_path and report.rows_rejected:
        print(f"Baris yang ditolak ditulis ke {report.reject_path}")
    return 0


async def cmd_seed(settings: Settings, args) -> int:
    from db.database import Database
    from db.seed import database_is_empty, seed_demo

    programs, region = load_reference(settings)
    db = Database(settings.database_url)
    try:
        if args.if_empty and not await database_is_empty(db):
            print("The database already holds DTSEN data; demo data not added.")
            return 0
        report, cases = await seed_demo(db, households=args.households, seed=args.seed,
                                        region=region, programs=programs, today=date.today(),
                                        data_dir=ROOT / "data" / "demo")
        from db.training_store import seed_samples

        trainings = await seed_samples(db, programs, region, date.today())
    finally:
        await db.dispose()
    login = await seed_demo_admin(settings)
    print(f"Demo data: {report.households} households, {report.rows_imported} people "
          f"(synthetic, seed {args.seed}). Try these in the chat:")
    for c in cases:
        # Synthetic numbers, printed in full on purpose so a newcomer can type them.
        print(f"  {c.label:<32} NIK {c.nik}  No. KK {c.no_kk}  (desil {c.desil})")
    if trainings:
        print(f"Sample trainings: {trainings} sessions (python bot.py training list).")
    if login:
        print(f"Staff dashboard demo login (change it before real use): {login[0]} / {login[1]}")
    return 0


async def seed_demo_admin(settings: Settings) -> tuple[str, str] | None:
    """A demo admin account for the dashboard, only when there is no staff account at all."""
    import secrets

    import sqlalchemy as sa

    from db.database import Database
    from db.schema import staff_users
    from web.auth import add_staff
    from domain.clock import utcnow

    db = Database(settings.database_url)
    try:
        async with db.tx() as c:
            if await c.scalar(sa.select(sa.func.count()).select_from(staff_users)):
                return None
            password = "demo-" + secrets.token_urlsafe(9)
            await add_staff(c, username="admin.demo", name="Admin demo", role="admin",
                            password=password, kelurahan_code=None, now=utcnow(),
                            actor="cli:seed-demo")
    finally:
        await db.dispose()
    return "admin.demo", password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot.py", description="Jaring chat service")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="start every configured channel and the web app")
    p_run.add_argument("--console-fallback", action="store_true",
                       help="without a Telegram token, also start the terminal chat")
    p_chat = sub.add_parser("chat", help="talk to the bot in the terminal")
    p_chat.add_argument("--user", default="local")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    p_imp = sub.add_parser("import-dtsen", help="import a DTSEN extract (CSV)")
    p_imp.add_argument("file")
    p_imp.add_argument("--data-date", type=date.fromisoformat, default=None)
    p_imp.add_argument("--skip-invalid", action="store_true")
    p_imp.add_argument("--reject", default=None, help="where to write rejected rows")
    p_seed = sub.add_parser("seed-demo", help="import a synthetic Kota Bogor extract")
    p_seed.add_argument("--households", type=int, default=500)
    p_seed.add_argument("--seed", type=int, default=7)
    p_seed.add_argument("--if-empty", action="store_true")
    import cli  # noqa: PLC0415

    cli.add_all(sub)
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except Exception as e:  # pydantic ValidationError: one line per mistake
        print(f"Configuration error:\n{e}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        if args.cmd == "migrate":
            from db.migrate import upgrade

            upgrade(settings.database_url)
            print("Database is up to date.")
            return 0
        if args.cmd == "run":
            return asyncio.run(cmd_run(settings, args.console_fallback))
        if args.cmd == "chat":
            return asyncio.run(cmd_chat(settings, args.user))
        if args.cmd == "import-dtsen":
            return asyncio.run(cmd_import(settings, args))
        if args.cmd == "seed-demo":
            return asyncio.run(cmd_seed(settings, args))
        if getattr(args, "handler", None):
            return asyncio.run(args.handler(settings, args))
    except CommandError as e:
        print(str(e), file=sys.stderr)
        return 1
    except ConfigProblem as e:
        print(f"Configuration error:\n{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
