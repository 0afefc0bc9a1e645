"""Reports: create (or merge into an open one), move through the lifecycle with a conditional
UPDATE, tell the reporters, the Forum RT step and its automatic forwarding. The SQL is
db/report_store.py (heads of RT: db/rt_store.py).

Shared by the chat flows (conversations/reports.py, conversations/rt.py), the scheduler and the
staff CLI (cli/reports.py). The caller owns the transaction; notifications are queued in it (so a
move and the message about it commit together) and their outbox ids are returned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.i18n import N_, Texts
from core.notify import notify_many
from db import report_store as store
from db import rt_store
from domain import reports as R


class ReportError(Exception):
    """A move that is not allowed, or a report changed by someone else meanwhile."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code} {detail}".strip())
        self.code, self.detail = code, detail


STORY_MAX = 2000  # reports.story
MERGED_STORY = "[Pelapor lain] "  # before the story of a report merged into an open one


@dataclass(frozen=True, slots=True)
class NewReport:
    category: str
    kelurahan_code: str
    reporter_role: str = "warga"  # warga | rt
    reporter_conversation_id: int | None = None
    reporter_person_id: int | None = None
    household_id: int | None = None
    rw: str | None = None
    rt: str | None = None
    target_name: str | None = None
    target_address: str | None = None
    target_nik: str | None = None
    target_kk: str | None = None
    reason: str | None = None
    detail: str | None = None
    story: str | None = None  # the reporter's own account (Dinsos only)
    lat: float | None = None
    lon: float | None = None
    photos: tuple[tuple[str, str, str], ...] = ()  # (kind, channel, ref)
    actor: str = "warga"
    rt_head_id: int | None = None  # set when a ketua RT reports on behalf of a neighbour


@dataclass(frozen=True, slots=True)
class Created:
    code: str
    state: str
    merged: bool
    due_at: datetime
    report_id: int


# --- RT heads ------------------------------------------------------------------------------


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


async def active_head_for_area(conn, kelurahan_code: str, rw: str | None, rt: str | None):
    if not rw or not rt:
        return None
    return await rt_store.first_active_of_area(conn, kelurahan_code, rw, rt)


async def head_of_conversation(conn, conversation_id: int):
    return await rt_store.active_of_conversation(conn, conversation_id)


# --- create --------------------------------------------------------------------------------


async def create_report(
    conn, new: NewReport, *, now: datetime, verification_days: int, rt_answer_days: int
) -> Created:
    """Insert the report (or merge it into an open one on the same target and category)."""
    key = R.target_key(
        household_id=new.household_id,
        kelurahan_code=new.kelurahan_code,
        rw=new.rw or "",
        rt=new.rt or "",
        name=new.target_name or "",
    )
    open_one = await store.open_on_target(conn, new.category, key, R.OPEN_STATES)
    if open_one is not None:
        note = "Laporan serupa digabung" + (f": {new.detail}" if new.detail else "")
        await _event(
            conn,
            open_one.id,
            now,
            new.actor,
            "merge",
            note=note[:1000],
            conversation_id=new.reporter_conversation_id,
        )
        await _photos(conn, open_one.id, new.photos, now)
        if new.story:  # the second reporter's own words are kept too (Dinsos only)
            await store.add_story(conn, open_one.id, MERGED_STORY + new.story, STORY_MAX)
        await store.touch(conn, open_one.id, now)
        return Created(open_one.code, open_one.state, True, open_one.due_at, open_one.id)
    head = await active_head_for_area(conn, new.kelurahan_code, new.rw, new.rt)
    state = R.first_state(
        new.category, rt_head_active=head is not None, by_rt_head=new.rt_head_id is not None
    )
    due = R.due_at(now, verification_days)
    values: dict[str, Any] = dict(
        category=new.category,
        state=state,
        version=1,
        reporter_conversation_id=new.reporter_conversation_id,
        reporter_person_id=new.reporter_person_id,
        reporter_role=new.reporter_role,
        household_id=new.household_id,
        target_key=key,
        target_name=_cut(new.target_name, 120),
        target_address=_cut(new.target_address, 255),
        target_nik=new.target_nik,
        target_kk=new.target_kk,
        kelurahan_code=new.kelurahan_code,
        rw=new.rw,
        rt=new.rt,
        reason=new.reason,
        detail=_cut(new.detail, 1000),
        story=_cut(new.story, STORY_MAX),
        lat=new.lat,
        lon=new.lon,
        created_at=now,
        updated_at=now,
        due_at=due,
        rt_due_at=R.rt_due_at(now, rt_answer_days) if state == R.VERIFIKASI_RT else None,
    )
    for _ in range(5):  # a code collision is astronomically rare; retry rather than fail
        code = R.new_code()
        if not await store.code_taken(conn, code):
            break
    rid = await store.insert(conn, dict(code=code, **values))
    await _event(
        conn,
        rid,
        now,
        new.actor,
        "create",
        to_state=R.DITERIMA,
        conversation_id=new.reporter_conversation_id,
    )
    if state != R.DITERIMA:
        await _event(
            conn,
            rid,
            now,
            "sistem",
            "move",
            from_state=R.DITERIMA,
            to_state=state,
            note="Ada ketua RT aktif: menunggu konfirmasi RT",
        )
    await _photos(conn, rid, new.photos, now)
    return Created(code, state, False, due, rid)


def _cut(s: str | None, n: int) -> str | None:
    return s[:n] if s else s


async def _event(
    conn,
    report_id: int,
    at: datetime,
    actor: str,
    action: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    outcome: str | None = None,
    note: str | None = None,
    conversation_id: int | None = None,
) -> None:
    await store.add_event(
        conn,
        report_id,
        at,
        actor,
        action,
        from_state=from_state,
        to_state=to_state,
        outcome=outcome,
        note=note,
        conversation_id=conversation_id,
    )


async def _photos(conn, report_id: int, photos, now: datetime) -> None:
    rows = [
        dict(report_id=report_id, kind=k, channel=ch, ref=ref[:160], created_at=now)
        for k, ch, ref in photos
    ]
    await store.add_photos(conn, rows)


# --- move ----------------------------------------------------------------------------------


async def by_code(conn, code: str):
    return await store.by_code(conn, code)


async def move(
    conn,
    report,
    to: str,
    *,
    now: datetime,
    actor: str,
    outcome: str | None = None,
    note: str | None = None,
    rt_opinion: str | None = None,
    action: str = "move",
    rt_due: datetime | None = None,
    default_locale: str = "id",
) -> list[int]:
    """Move `report` (a row as read) to `to`. Only if it is still in the state and version that
    were read: a concurrent move by someone else makes this one fail with `changed`. Queues the
    reporters' notification in the same transaction; returns its outbox ids."""
    problem = R.check_move(report.state, to, outcome, note)
    if problem:
        raise ReportError(problem.code, problem.detail)
    values: dict[str, Any] = dict(
        state=to, outcome=outcome if to == R.SELESAI else None, updated_at=now
    )  # the store adds version + 1
    if rt_opinion:
        values["rt_opinion"] = rt_opinion
    if to == R.VERIFIKASI_RT:
        values["rt_due_at"] = rt_due or now  # the caller passes now + [sla].rt_answer_days
    if not await store.move(conn, report, values):
        raise ReportError("changed", report.code)
    await _event(
        conn,
        report.id,
        now,
        actor,
        action,
        from_state=report.state,
        to_state=to,
        outcome=outcome if to == R.SELESAI else None,
        note=(note or None) and note[:1000],
    )
    return await notify_many(
        conn,
        await reporters(conn, report),
        lambda t: move_text(t, report.code, to, outcome, note),
        now=now,
        default_locale=default_locale,
    )


async def reporters(conn, report) -> list[int]:
    """The reporter and everyone whose duplicate was merged into this report."""
    ids = [report.reporter_conversation_id] if report.reporter_conversation_id else []
    ids += await store.merged_conversations(conn, report.id)
    return list(dict.fromkeys(ids))


# What the reporter is told, in their language.
MOVED = {
    R.VERIFIKASI_RT: N_("Your report {code} is now with your ketua RT for confirmation."),
    R.VERIFIKASI_DINSOS: N_("Your report {code} is now being checked by Dinsos."),
    R.CEK_LAPANGAN: N_("An officer will visit to check your report {code}."),
    R.DITERUSKAN: N_(
        "Your report {code} has been forwarded to the musyawarah kelurahan and SIKS-NG."
    ),
}
CLOSED = {
    R.DISETUJUI: N_(
        "Your report {code} was accepted and forwarded. BPS and Kemensos make the "
        "final decision; this may take a few months."
    ),
    R.DITOLAK: N_("Your report {code} was not accepted. Reason: {reason}"),
    R.DUPLIKAT: N_(
        "Your report {code} was closed: the same matter is already handled in another report."
    ),
    R.DIBATALKAN: N_("Your report {code} was cancelled."),
}
STATE_LABELS = {
    R.DITERIMA: N_("received"),
    R.VERIFIKASI_RT: N_("waiting for the ketua RT"),
    R.VERIFIKASI_DINSOS: N_("checked by Dinsos"),
    R.CEK_LAPANGAN: N_("field check"),
    R.DITERUSKAN: N_("forwarded to kelurahan / SIKS-NG"),
}
OUTCOME_LABELS = {
    R.DISETUJUI: N_("closed: accepted"),
    R.DITOLAK: N_("closed: not accepted"),
    R.DUPLIKAT: N_("closed: duplicate"),
    R.DIBATALKAN: N_("closed: cancelled"),
}
CATEGORY_LABELS = {
    R.USUL: N_("Proposal (usul)"),
    R.SANGGAH: N_("Objection (sanggah)"),
    R.KOREKSI: N_("Correction (koreksi)"),
    R.GRADUASI: N_("No longer needs aid (graduasi)"),
}


def move_text(t: Texts, code: str, to: str, outcome: str | None, note: str | None) -> str:
    if to == R.SELESAI:
        return t._(CLOSED[outcome], code=code, reason=note or "-")
    return t._(MOVED[to], code=code)


def state_label(t: Texts, state: str, outcome: str | None) -> str:
    if state == R.SELESAI and outcome:
        return t._(OUTCOME_LABELS[outcome])
    return t._(STATE_LABELS.get(state, state))


# --- the resident's own reports ------------------------------------------------------------


async def reports_of(conn, conversation_id: int, limit: int = 10):
    return await store.of_conversation(conn, conversation_id, limit)


# --- the Forum RT step ---------------------------------------------------------------------


async def waiting_for_head(conn, head, limit: int = 10):
    """Reports of this head's RT waiting for the head's answer, oldest first."""
    return await store.in_area_state(
        conn, head.kelurahan_code, head.rw, head.rt, R.VERIFIKASI_RT, limit
    )


async def rt_answer(
    conn, head, report_id: int, agree: bool, note: str, *, now: datetime, default_locale: str = "id"
) -> list[int]:
    """The ketua RT confirms or disputes a report of their own RT; it goes on to Dinsos."""
    report = await store.by_id(conn, report_id)
    if (
        report is None
        or report.kelurahan_code != head.kelurahan_code
        or report.rw != head.rw
        or report.rt != head.rt
    ):
        raise ReportError("not_your_rt")
    if report.state != R.VERIFIKASI_RT:
        raise ReportError("changed", report.code)
    return await move(
        conn,
        report,
        R.VERIFIKASI_DINSOS,
        now=now,
        actor=f"rt:{head.id}",
        note=note,
        rt_opinion="SETUJU" if agree else "TIDAK_SETUJU",
        action="rt_confirm" if agree else "rt_dispute",
        default_locale=default_locale,
    )


async def forward_unanswered(conn, now: datetime, deps) -> list[int]:
    """Scheduler job: reports left at VERIFIKASI_RT past [sla].rt_answer_days go on to Dinsos.
    Idempotent: the conditional UPDATE in `move` skips what another run already moved."""
    due = await store.due_in_state(conn, R.VERIFIKASI_RT, now, limit=500)
    ids: list[int] = []
    for report in due:
        try:
            ids += await move(
                conn,
                report,
                R.VERIFIKASI_DINSOS,
                now=now,
                actor="sistem",
                note=f"Tanpa jawaban ketua RT dalam {deps.programs.sla.rt_answer_days} hari",
                rt_opinion="TANPA_JAWABAN",
                default_locale=deps.default_locale,
            )
        except ReportError:
            continue
    return ids
