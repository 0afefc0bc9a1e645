"""Statistik: charts of the service for staff, rendered on the server as inline SVG
(web/charts.py), each followed by a table with the same numbers.

- Reports by kelurahan and state (top kelurahan in the chart, all of them in the table).
- Handoff: every ticket per Jakarta week (8 weeks) by where it stands (waiting for an answer,
  answered and still open, closed by staff, withdrawn by the resident), and the share answered
  before the due time, over every ticket whose due time has passed or that has been answered,
  open or closed. A ticket the resident withdrew before its due time without an answer is not
  judged (nobody could answer it any more); withdrawn later, it counts as missed.
- Desil spread of the households residents matched in the chat (distinct households).
- Registrations per training session (by status).
- Channel use: conversations per channel, inbound messages per channel in the last 30 days,
  and how often a chat reached its daily limit of reports or questions in the last 7 days
  (city-wide; who: the audit log's `limit.` rows, for admins).

The simulator's conversations (channel "web", web/simulator.py) are test traffic: they are left
out of every number and only counted, separately, under channel use. An operator sees only their
kelurahan where the data has one (reports, tickets, households, registrations through the
registrant's household); channel use has no kelurahan and is shown city-wide, labelled so.
"""

from __future__ import annotations

from datetime import timedelta

import aiohttp_jinja2
from aiohttp import web

from db import stats_store as store
from db.audit import counts_since as audit_counts
from db.stats_store import SIM
from domain import reports as R
from domain.clock import JAKARTA
from web.auth import AUTH, STAFF, Staff
from web.charts import columns, hbar
from web.keys import CHANNEL_LABELS, DEPS

WEEKS = 8
TOP_KELURAHAN = 10
STATE_NAMES = {
    R.DITERIMA: "Diterima",
    R.VERIFIKASI_RT: "Verifikasi RT",
    R.VERIFIKASI_DINSOS: "Verifikasi Dinsos",
    R.CEK_LAPANGAN: "Cek lapangan",
    R.DITERUSKAN: "Diteruskan",
    R.SELESAI: "Selesai",
}
REG_STATUS = (
    ("CONFIRMED", "Terdaftar"),
    ("PENDING", "Menunggu alokasi"),
    ("WAITLIST", "Daftar tunggu"),
)


def setup(app: web.Application) -> None:
    app.router.add_get("/stats", stats_page)


def _kelurahan(staff: Staff) -> str | None:
    """An operator's kelurahan (their numbers are limited to it), else None (city-wide)."""
    return staff.kelurahan_code if staff.role == "operator" else None


def _kel_name(region, code: str | None) -> str:
    if not code:
        return "—"
    kel = region.kelurahan_by_code(code)
    return kel.name if kel else code


TICKET_STATES = (
    ("waiting", "Menunggu jawaban"),
    ("answered", "Dijawab, masih terbuka"),
    ("closed", "Ditutup petugas"),
    ("withdrawn", "Ditarik warga"),
)


def ticket_state(status: str, closed_by: str | None, first) -> str:
    if status == "open":
        return "answered" if first is not None else "waiting"
    return "withdrawn" if closed_by == "resident" else "closed"


def judged(state: str, due, first, closed_at, now) -> bool:
    """Whether a ticket counts in the on-time share: answered (on time or not is settled), or
    past its due time; not a ticket withdrawn unanswered before its due time."""
    if first is not None:
        return True
    if state == "withdrawn" and closed_at is not None and closed_at < due:
        return False
    return due <= now


async def sla_weeks(c, staff: Staff, now):
    local = now.astimezone(JAKARTA)
    this_monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    starts = [this_monday - timedelta(weeks=k) for k in range(WEEKS - 1, -1, -1)]
    weeks = [
        {"start": s, "tickets": 0, "judged": 0, "met": 0, **{k: 0 for k, _ in TICKET_STATES}}
        for s in starts
    ]
    rows = await store.ticket_times(c, _kelurahan(staff), starts[0])
    for opened, due, first, status, closed_by, closed_at in rows:
        i = (opened.astimezone(JAKARTA) - starts[0]).days // 7
        if not 0 <= i < WEEKS:
            continue
        w = weeks[i]
        w["tickets"] += 1
        state = ticket_state(status, closed_by, first)
        w[state] += 1
        if judged(state, due, first, closed_at, now):
            w["judged"] += 1
            w["met"] += int(first is not None and first <= due)
    for w in weeks:
        w["share"] = round(100 * w["met"] / w["judged"]) if w["judged"] else None
        w["label"] = w["start"].strftime("%d/%m")
        w["range"] = (
            f"{w['start'].strftime('%d/%m')}–"
            f"{(w['start'] + timedelta(days=6)).strftime('%d/%m/%Y')}"
        )
    return weeks


def sla_total(weeks) -> dict:
    keys = ["tickets", "judged", "met", *(k for k, _ in TICKET_STATES)]
    total = {k: sum(w[k] for w in weeks) for k in keys}
    total["share"] = round(100 * total["met"] / total["judged"]) if total["judged"] else None
    return total


async def training_counts(c, staff: Staff):
    sessions: dict[int, dict] = {}
    for sid, title, starts, quota, status, n in await store.training_counts(c, _kelurahan(staff)):
        s = sessions.setdefault(sid, {"title": title, "starts": starts, "quota": quota, "by": {}})
        s["by"][status] = n
    return sorted(sessions.values(), key=lambda s: s["starts"], reverse=True)[:12]


async def stats_page(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    region = request.app[DEPS].region
    now = auth.clock()
    async with auth.db.tx(write=False) as c:
        by_kel = await store.report_counts(c, _kelurahan(staff))
        weeks = await sla_weeks(c, staff, now)
        desil = await store.desil_counts(c, _kelurahan(staff))
        trainings = await training_counts(c, staff)
        convs, inbound = await store.channel_counts(c, now - timedelta(days=30))
        # chats that reached a daily limit (conversations/limits.py): one audit row a day each
        limits = await audit_counts(c, "limit.", now - timedelta(days=7))

    states = list(R.STATES)
    kel_rows = sorted(
        ((_kel_name(region, k), [v.get(s, 0) for s in states]) for k, v in by_kel.items()),
        key=lambda r: (-sum(r[1]), r[0]),
    )
    report_total = [sum(r[1][i] for r in kel_rows) for i in range(len(states))]
    state_names = [STATE_NAMES[s] for s in states]

    desil_rows = [(str(d), desil.get(d, 0)) for d in range(1, 11)]
    extra_desil = {d: n for d, n in desil.items() if not 1 <= d <= 10}
    desil_rows += [(str(d), n) for d, n in sorted(extra_desil.items())]

    reg_rows = [
        (
            f"{t['title']} ({t['starts'].astimezone(JAKARTA).strftime('%d-%m-%Y')})",
            [t["by"].get(code, 0) for code, _ in REG_STATUS],
            t["quota"],
        )
        for t in trainings
    ]

    real = [ch for ch in sorted(set(convs) | set(inbound)) if ch != SIM]
    labels = request.app[CHANNEL_LABELS]
    chan_rows = [(labels.get(ch, ch), convs.get(ch, 0), inbound.get(ch, 0)) for ch in real]

    sla_has_data = any(w["tickets"] for w in weeks)
    ctx = {
        "nav": "stats",
        "now": now.astimezone(JAKARTA).strftime("%d-%m-%Y %H.%M"),
        "scoped": staff.role == "operator",
        "kelurahan": _kel_name(region, staff.kelurahan_code),
        "states": state_names,
        "kel_rows": kel_rows,
        "report_total": report_total,
        "reports_chart": hbar(kel_rows[:TOP_KELURAHAN], state_names) if kel_rows else None,
        "more_kelurahan": max(0, len(kel_rows) - TOP_KELURAHAN),
        "weeks": weeks,
        "sla_total": sla_total(weeks),
        "ticket_states": TICKET_STATES,
        "sla_chart": columns(
            [(w["label"], w["share"]) for w in weeks], unit="%", max_value=100, line=True
        )
        if sla_has_data
        else None,
        "desil_rows": desil_rows,
        "desil_total": sum(desil.values()),
        "desil_chart": columns(desil_rows) if desil else None,
        "reg_status": [name for _, name in REG_STATUS],
        "reg_rows": reg_rows,
        "reg_chart": hbar([(t, v) for t, v, _ in reg_rows], [n for _, n in REG_STATUS])
        if reg_rows
        else None,
        "chan_rows": chan_rows,
        "conv_chart": hbar([(n, [cv]) for n, cv, _ in chan_rows])
        if any(r[1] for r in chan_rows)
        else None,
        "inbound_chart": hbar([(n, [i]) for n, _, i in chan_rows])
        if any(r[2] for r in chan_rows)
        else None,
        "sim_convs": convs.get(SIM, 0),
        "sim_inbound": inbound.get(SIM, 0),
        "limit_reports": limits.get("limit.reports", 0),
        "limit_tickets": limits.get("limit.tickets", 0),
    }
    return aiohttp_jinja2.render_template("stats.html", request, ctx)
