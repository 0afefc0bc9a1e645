"""Retention: personal data is deleted `[service].retention_months` after the matter is closed,
as the privacy notice promises (UU PDP: end processing and delete data no longer needed once
the retention period is reached; ../shared/domain.md §7).

A scheduler job, run at most once a day per process. What goes, once older than the cut-off:
- message contents: inbound events (processed) and outbound messages (not being sent), WhatsApp
  delivery statuses, failed-check counters (keyed NIK hashes), the messages the understanding
  layer could not place (nlu_misses, masked);
- images residents sent (the files and their rows), unless an open report still uses them;
- tickets closed before the cut-off lose their messages (the ticket row stays, without
  contents, for the SLA statistics);
- reports closed (SELESAI) before the cut-off lose the target's name, address, NIK, No. KK, the
  reporter's words, the location, the photos and the staff notes in their history (category,
  area, states, dates and outcome stay for the statistics and the SIKS-NG trail);
- conversations idle since before the cut-off, with no open ticket or report, forget their
  state and their match (NIK + No. KK are asked again next time);
- phone numbers residents gave so an officer can call them (contact_numbers) go sooner:
  `[service].contact_retention_months` (default 6, never more than retention_months) after
  they were given or last confirmed, whatever the state of the matter.
Kept: the audit log (accountability) and the consent log (proof of consent, UU PDP art. 22).
DTSEN data itself is Dinsos's register, not chat data, and is not touched.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from db import retention_store as store
from db.audit import audit

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
    p = deps.programs
    counts = await purge(
        conn,
        months_before(now, p.retention_months),
        now,
        contact_cutoff=months_before(now, min(p.contact_retention_months, p.retention_months)),
    )
    if any(counts.values()):
        await audit(
            conn,
            "system:retention",
            "retention.purge",
            f"{deps.programs.retention_months} bulan",
            counts,
            now=now,
        )
        log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return []


async def purge(
    conn, cutoff: datetime, now: datetime, *, contact_cutoff: datetime | None = None
) -> dict[str, int]:
    """Everything older than `cutoff`; phone numbers given before `contact_cutoff` (default:
    `cutoff`, or itself when later). Counts by table."""
    counts = await store.purge_records(conn, cutoff)
    counts["contact_numbers"] = await store.purge_contacts(
        conn, max(cutoff, contact_cutoff) if contact_cutoff else cutoff
    )
    files = 0
    for path in await store.purge_media(conn, cutoff):
        try:
            os.unlink(path)
            files += 1
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("retention: could not delete an image file (%s)", type(e).__name__)
    counts["image_files"] = files
    counts["conversations"] = await store.forget_idle_conversations(conn, cutoff)
    return counts
