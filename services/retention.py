"""Retention: personal data is deleted `[service].retention_months` after the matter is closed,
as the privacy notice promises (UU PDP: end processing and delete data no longer needed once
the retention period is reached; ../shared/domain.md §7).

A scheduler job, run at most once a day per process. What goes, once older than the cut-off:
- message contents: inbound events (processed) and outbound messages (not being sent), WhatsApp
  delivery statuses, failed-check counters (keyed NIK hashes);
- images residents sent (the files and their rows), unless an open report still uses them;
- tickets closed before the cut-off lose their messages (the ticket row stays, without
  contents, for the SLA statistics);
- reports closed (SELESAI) before the cut-off lose the target's name, address, NIK, No. KK, the
  reporter's words, the location, the photos and the staff notes in their history (category,
  area, states, dates and outcome stay for the statistics and the SIKS-NG trail);
- conversations idle since before the cut-off, with no open ticket or report, forget their
  state and their match (NIK + No. KK are asked again next time).
Kept: the audit log (accountability) and the consent log (proof of consent, UU PDP art. 22).
DTSEN data itself is Dinsos's register, not chat data, and is not touched.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

import sqlalchemy as sa

from db.audit import audit
from db.schema import (check_attempts, conversations, inbound_events,
                       outbound_messages, report_events, report_photos, reports, tg_media,
                       ticket_messages, tickets, wa_media, wa_statuses)

log = logging.getLogger("jaring.retention")

RUN_EVERY = timedelta(hours=24)
# When the job last ran, per runtime (its deps object, kept so that its id is never reused).
_last_run: dict[int, tuple[object, datetime]] = {}


def months_before(now: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (clamped to the month's end)."""
    y, m = divmod(now.year * 12 + now.month - 1 - months, 12)
    m += 1
    for day in (now.day, 30, 29, 28):
        try:
            return now.replace(year=y, month=m, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


async def retention_job(conn, now: datetime, deps) -> list[int]:
    seen = _last_run.get(id(deps))
    if seen is not None and seen[0] is deps and timedelta(0) <= now - seen[1] < RUN_EVERY:
        return []
    _last_run[id(deps)] = (deps, now)
    counts = await purge(conn, months_before(now, deps.programs.retention_months), now)
    if any(counts.values()):
        await audit(conn, "system:retention", "retention.purge",
                    f"{deps.programs.retention_months} bulan", counts, now=now)
        log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return []


async def purge(conn, cutoff: datetime, now: datetime) -> dict[str, int]:
    I, O, T, M, R = inbound_events.c, outbound_messages.c, tickets.c, ticket_messages.c, reports.c
    counts: dict[str, int] = {}

    async def run(name: str, stmt) -> None:
        counts[name] = (await conn.execute(stmt)).rowcount or 0

    old_in = sa.select(I.id).where(I.received_at < cutoff, I.status != "pending")
    await conn.execute(sa.update(outbound_messages).where(O.inbound_event_id.in_(old_in))
                       .values(inbound_event_id=None))
    await run("outbound_messages", sa.delete(outbound_messages).where(
        O.created_at < cutoff, O.status != "sending"))
    await run("inbound_events", sa.delete(inbound_events).where(
        I.received_at < cutoff, I.status != "pending"))
    await run("wa_statuses", sa.delete(wa_statuses).where(wa_statuses.c.received_at < cutoff))
    await run("check_attempts", sa.delete(check_attempts).where(check_attempts.c.at < cutoff))

    closed_tickets = sa.select(T.id).where(T.status == "closed", T.closed_at < cutoff)
    await run("ticket_messages", sa.delete(ticket_messages).where(M.ticket_id.in_(closed_tickets)))

    closed = sa.and_(R.state == "SELESAI", R.updated_at < cutoff)
    closed_ids = sa.select(R.id).where(closed)
    await run("report_photos", sa.delete(report_photos).where(
        report_photos.c.report_id.in_(closed_ids)))
    await conn.execute(sa.update(report_events).where(
        report_events.c.report_id.in_(closed_ids), report_events.c.note.is_not(None))
        .values(note=None))
    await run("reports", sa.update(reports).where(closed, sa.or_(
        R.target_name.is_not(None), R.target_address.is_not(None), R.target_nik.is_not(None),
        R.target_kk.is_not(None), R.detail.is_not(None), R.lat.is_not(None))).values(
        target_name=None, target_address=None, target_nik=None, target_kk=None, detail=None,
        lat=None, lon=None))

    # Images: not while an open report still shows them.
    open_refs = (sa.select(report_photos.c.ref).join(reports, R.id == report_photos.c.report_id)
                 .where(R.state != "SELESAI"))
    files = 0
    for table, key in ((wa_media, wa_media.c.ref), (tg_media, tg_media.c.file_id)):
        old = (await conn.execute(sa.select(table.c.path, table.c.sha256, key.label("k")).where(
            table.c.created_at < cutoff, key.not_in(open_refs)))).all()
        for row in old:
            if row.path and not await _still_used(conn, row.sha256, cutoff):
                try:
                    os.unlink(row.path)
                    files += 1
                except FileNotFoundError:
                    pass
                except OSError as e:
                    log.warning("retention: could not delete an image file (%s)", type(e).__name__)
        if old:
            await conn.execute(sa.delete(table).where(key.in_([r.k for r in old])))
    counts["image_files"] = files

    C = conversations.c
    idle = sa.and_(C.last_activity_at < cutoff, C.owner == "bot",
                   sa.or_(C.household_id.is_not(None), C.flow != "menu", C.step != "main"))
    busy_ticket = sa.select(T.conversation_id).where(T.status == "open")
    busy_report = sa.select(R.reporter_conversation_id).where(
        R.state != "SELESAI", R.reporter_conversation_id.is_not(None))
    await run("conversations", sa.update(conversations).where(
        idle, C.id.not_in(busy_ticket), C.id.not_in(busy_report))
        .values(data={}, household_id=None, flow="menu", step="main", misunderstood=0))
    return counts


async def _still_used(conn, sha256: str | None, cutoff: datetime) -> bool:
    """Files are stored by content hash: another, newer image row may share the file."""
    if not sha256:
        return False
    for table in (wa_media, tg_media):
        n = await conn.scalar(sa.select(sa.func.count()).select_from(table).where(
            table.c.sha256 == sha256, table.c.created_at >= cutoff))
        if n:
            return True
    return False
