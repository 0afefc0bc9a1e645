"""/healthz, /readyz and /metrics (docs/observe.md).

- GET /healthz: the process answers (no database): 200 {"status": "ok"}. For a liveness probe.
- GET /readyz: the database answers, each channel receives (its `health()`: a poller alive, a
  webhook registered) and sends (its last send attempt did not fail: the outbox's `senders`, core/metrics.py), and the
  scheduler runs (leader or follower: only a dead loop fails). 200 or 503 with the reason per
  check, as JSON. Nothing in it is a resident's data.
- GET /metrics: Prometheus text (prometheus-client), the process's counters plus the figures read
  from the database (`DbFigures`, cached `FIGURES_TTL` seconds). Open only to a loopback peer
  that is not a proxy forwarding someone else, unless JARING_METRICS_TOKEN is set: then only
  with `Authorization: Bearer <token>`, from anywhere.

bot.py hands the channels and the scheduler over (`add_channel`, `set_scheduler`); web imports no
handler.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import GaugeMetricFamily

from core.health import Health
from core.outbox import Outbox
from db import observe_store
from db.database import Database
from web.auth import mark_public

log = logging.getLogger("jaring.web")

PATHS = ("/healthz", "/readyz", "/metrics")
FIGURES_TTL = 5.0  # seconds a scrape's database figures are reused
DB_TIMEOUT = 3.0  # seconds /readyz and /metrics wait for the database

CHANNELS = web.AppKey("ready_channels", dict[str, Callable[[], Health]])
SCHEDULER = web.AppKey("ready_scheduler", object)
FIGURES = web.AppKey("db_figures", object)


def setup(
    app: web.Application,
    *,
    db: Database,
    outbox: Outbox,
    clock: Callable[[], datetime],
    metrics_token: str | None,
) -> None:
    app[CHANNELS] = {}
    figures = DbFigures(db, clock, outbox)
    app[FIGURES] = figures
    registry = CollectorRegistry(auto_describe=False)
    registry.register(process_metrics())
    registry.register(figures)
    serve = make_aiohttp_handler(registry)
    token = metrics_token.encode() if metrics_token else None

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        body = await readiness(request.app, db, outbox)
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    async def metrics_page(request: web.Request) -> web.StreamResponse:
        refusal = metrics_refusal(request, token)
        if refusal is not None:
            return refusal
        await figures.refresh()
        return await serve(request)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    for path in PATHS:
        mark_public(app, path)


def add_channel(app: web.Application, key: str, health: Callable[[], Health]) -> None:
    """A channel's receiver check for /readyz (bot.py, for each channel it builds)."""
    app[CHANNELS][key] = health


def set_scheduler(app: web.Application, scheduler: object) -> None:
    app[SCHEDULER] = scheduler


def process_metrics():
    """This process's counters (the default registry, with prometheus-client's process
    collector), or, in multiprocess mode (PROMETHEUS_MULTIPROC_DIR set before the start), the sum
    over every worker's files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client.multiprocess import MultiProcessCollector

        return MultiProcessCollector(None)
    return REGISTRY


# --- /readyz -----------------------------------------------------------------------------


async def readiness(app: web.Application, db: Database, outbox: Outbox) -> dict:
    failing: list[str] = []
    database = await _database(db)
    if not database.ok:
        failing.append("database")
    channels: dict[str, dict] = {}
    for key, health in sorted(app[CHANNELS].items()):
        parts = {"receiver": _safe(health)}
        if key in outbox.transports:
            parts["sender"] = outbox.senders.health(key)
        channels[key] = {name: h.json() for name, h in parts.items()}
        failing += [f"channels.{key}.{name}" for name, h in parts.items() if not h.ok]
    body: dict = {"status": "error" if failing else "ok", "failing": failing}
    body["database"] = database.json()
    body["channels"] = channels
    scheduler = app.get(SCHEDULER)
    if scheduler is not None:
        body["scheduler"] = _scheduler(scheduler)
        if not body["scheduler"]["ok"]:
            failing.append("scheduler")
            body["status"] = "error"
    return body


async def _database(db: Database) -> Health:
    started = time.perf_counter()
    try:
        ok = await asyncio.wait_for(db.ping(), DB_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - the reason is the answer
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        return Health(False, f"unreachable ({type(exc).__name__})")
    ms = (time.perf_counter() - started) * 1000
    return Health(ok, f"answered in {ms:.1f} ms" if ok else "unexpected answer")


def _safe(health: Callable[[], Health]) -> Health:
    try:
        return health()
    except Exception as exc:  # noqa: BLE001 - a broken check is a failing check
        return Health(False, f"health check raised {type(exc).__name__}")


def _scheduler(scheduler) -> dict:
    """Leader or follower (another worker runs the jobs): both are fine; a loop that died is not."""
    leader = bool(getattr(scheduler, "is_leader", True))
    running = bool(getattr(scheduler, "running", True))
    if not running:
        return {"ok": False, "leader": leader, "detail": "scheduler loop not running"}
    role = "leader: runs the scheduled jobs" if leader else "follower: another worker runs the jobs"
    return {"ok": True, "leader": leader, "detail": role}


# --- /metrics ----------------------------------------------------------------------------


def metrics_refusal(request: web.Request, token: bytes | None) -> web.Response | None:
    """None when the request may read /metrics; else the refusal."""
    if token is not None:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token):
            return None
        return web.Response(
            status=401, text="Unauthorized", headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    if _loopback(request.remote) and not _forwarded(request):
        return None
    return web.Response(
        status=403, text="Forbidden: /metrics is served to loopback only (or set a token)"
    )


def _loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def _forwarded(request: web.Request) -> bool:
    """The request came through a proxy on this machine (Caddy, nginx): not a local scraper."""
    return any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))


class DbFigures:
    """A prometheus-client collector over `db/observe_store.snapshot`: `refresh()` (async, at
    most once per `ttl` seconds, concurrent scrapes share it) reads the database, `collect()`
    (sync, as the exposition calls it) serves the last reading."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime], outbox: Outbox, ttl=FIGURES_TTL
    ):
        self.db, self.clock, self.outbox, self.ttl = db, clock, outbox, ttl
        self._data: dict | None = None
        self._ok = False
        self._seconds = 0.0
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return
            started = time.perf_counter()
            try:
                async with asyncio.timeout(DB_TIMEOUT):
                    async with self.db.tx(write=False) as c:
                        self._data = await observe_store.snapshot(c, self.clock())
                self._ok = True
            except Exception as exc:  # noqa: BLE001 - the scrape still serves the counters
                log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
                self._data, self._ok = None, False
            self._seconds = time.perf_counter() - started
            self._at = time.monotonic()

    def collect(self):
        yield GaugeMetricFamily(
            "jaring_db_figures_ok",
            "1 when the last reading of the database figures succeeded, else 0 (and the "
            "jaring_outbox_*, jaring_inbox_*, jaring_tickets_* and jaring_reports_* series "
            "are absent).",
            value=1 if self._ok else 0,
        )
        yield GaugeMetricFamily(
            "jaring_db_figures_seconds",
            "Seconds the last reading of the database figures took.",
            value=self._seconds,
        )
        data = self._data
        if data is None:
            return
        depth = GaugeMetricFamily(
            "jaring_outbox_messages",
            "Outbound messages waiting, by channel and state (queued, sending, held).",
            labels=["channel", "state"],
        )
        age = GaugeMetricFamily(
            "jaring_outbox_oldest_age_seconds",
            "Age of the oldest waiting outbound message, by channel and state (0: none).",
            labels=["channel", "state"],
        )
        found = {(ch, st): (n, a) for ch, st, n, a in data["outbox"]}
        for ch in self.outbox.transports:
            for st in observe_store.OUTBOX_WAITING:
                found.setdefault((ch, st), (0, 0.0))
        for (ch, st), (n, a) in sorted(found.items()):
            depth.add_metric([ch, st], n)
            age.add_metric([ch, st], a)
        yield depth
        yield age
        pending, pending_age = data["inbox"]["pending"]
        yield GaugeMetricFamily(
            "jaring_inbox_pending_events",
            "Inbound events stored and not processed yet.",
            value=pending,
        )
        yield GaugeMetricFamily(
            "jaring_inbox_oldest_pending_age_seconds",
            "Age of the oldest unprocessed inbound event (0: none).",
            value=pending_age,
        )
        yield GaugeMetricFamily(
            "jaring_inbox_dead_letters",
            "Inbound events dead-lettered (all time): `python bot.py dead-letters` lists them.",
            value=data["inbox"]["dead"][0],
        )
        yield GaugeMetricFamily(
            "jaring_tickets_open", "Open handoff tickets.", value=data["tickets_open"]
        )
        yield GaugeMetricFamily(
            "jaring_tickets_overdue",
            "Open tickets past their first-answer due time without an answer (SLA).",
            value=data["tickets_overdue"],
        )
        yield GaugeMetricFamily("jaring_reports_open", "Open reports.", value=data["reports_open"])
        yield GaugeMetricFamily(
            "jaring_reports_past_sla",
            "Open reports past their verification due date ([sla].verification_days).",
            value=data["reports_past_sla"],
        )
