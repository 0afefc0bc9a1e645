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
from datetime import datetime, timedelta
from typing import Any

from core.i18n import N_, Texts
from core.model import Choice, Reply
from core.notify import notify, notify_many
from db import queries, rt_store
from db import report_store as store
from domain import reports as R
from domain.cleaning import db_id


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
    notified: tuple[int, ...] = ()  # the message to the ketua RT; hand to Outbox.notify


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
    conn,
    new: NewReport,
    *,
    now: datetime,
    verification_days: int,
    rt_answer_days: int,
    default_locale: str = "id",
) -> Created:
    """Insert the report (or merge it into an open one on the same target and category). When it
    waits for the ketua RT, the head is told in the same transaction (`Created.notified`)."""
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
    # A head's own report is their confirmation, also when made from the resident's menu.
    by_head = new.rt_head_id is not None or (
        head is not None
        and new.reporter_conversation_id is not None
        and head.conversation_id == new.reporter_conversation_id
    )
    state = R.first_state(new.category, rt_head_active=head is not None, by_rt_head=by_head)
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
    told: list[int] = []
    if state == R.VERIFIKASI_RT and head is not None:
        told = await tell_head(conn, head, rid, now=now, default_locale=default_locale)
    return Created(code, state, False, due, rid, tuple(told))


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
        values["rt_reminded_at"] = None
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
    told: list[int] = []
    if to == R.VERIFIKASI_RT:  # staff sent it (back) to the RT: the head is asked at once
        head = await active_head_for_area(conn, report.kelurahan_code, report.rw, report.rt)
        if head is not None:
            told = await tell_head(conn, head, report.id, now=now, default_locale=default_locale)
    return told + await notify_many(
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

# The answer buttons: choice id "rt:<answer>:<report id>". They work from any step of the chat
# (conversations/hooks.py hands them to conversations/rt.py), whenever the head taps them.
ANSWER_PREFIX = "rt:"
# answer -> (reports.rt_opinion, report_events.action)
ANSWERS = {
    "yes": ("SETUJU", "rt_confirm"),
    "no": ("TIDAK_SETUJU", "rt_dispute"),
    "unk": ("TIDAK_TAHU", "rt_unsure"),
}
ANSWER_LABELS = {"yes": N_("Right"), "no": N_("Not right"), "unk": N_("I don't know")}
# The head is reminded once, this long before the RT answer is due.
REMIND_BEFORE = timedelta(days=1)
# Reasons in a head's words, by category (the same msgids as the report flow's buttons).
REASON_LABELS = {
    R.USUL: {
        "income": N_("Lost income"),
        "illness": N_("Illness, disability"),
        "elder": N_("Elder living alone"),
        "house": N_("Poor house"),
        "other": N_("Other reason"),
    },
    R.SANGGAH: {
        "wealthy": N_("Well-off family"),
        "civil_servant": N_("Civil servant/army"),
        "moved": N_("Moved away"),
        "died": N_("Passed away"),
        "other": N_("Other reason"),
    },
    R.KOREKSI: {
        "born": N_("A member was born"),
        "died": N_("A member died"),
        "moved_in": N_("A member moved in"),
        "moved_out": N_("A member moved out"),
        "address": N_("Address"),
        "disability": N_("Disability"),
        "work": N_("Work or income"),
    },
}


def answer_choices(t: Texts, report_id: int) -> list[Choice]:
    return [Choice(f"{ANSWER_PREFIX}{a}:{report_id}", t._(lbl)) for a, lbl in ANSWER_LABELS.items()]


def parse_answer(choice: str | None) -> tuple[str, int] | None:
    """("yes" | "no" | "unk", report id) of an answer button, else None."""
    parts = (choice or "").split(":")
    if len(parts) == 3 and parts[0] + ":" == ANSWER_PREFIX and parts[1] in ANSWERS:
        rid = db_id(parts[2])  # ASCII digits within a BIGINT ("rt:yes:²" is no id)
        if rid is not None:
            return parts[1], rid
    return None


@dataclass(frozen=True, slots=True)
class HeadView:
    """What a ketua RT sees of a report: its category, the family's name and address, the reason
    and the reporter's words. Never a desil, a program, a NIK or No. KK, nor who reported."""

    code: str
    category: str
    target: str
    reason: str | None
    detail: str | None


async def head_view(conn, report) -> HeadView:
    if report.household_id is not None:
        row = await queries.household_head(conn, report.household_id)
        target = f"{row.nama}, {row.alamat}" if row else ""
    else:
        target = f"{report.target_name or ''}, {report.target_address or ''}"
    return HeadView(report.code, report.category, target, report.reason, report.detail)


def head_view_text(t: Texts, v: HeadView) -> str:
    lines = [f"{v.code} · {t._(CATEGORY_LABELS[v.category])}", "• " + v.target]
    if v.reason:
        label = REASON_LABELS.get(v.category, {}).get(v.reason)
        lines.append("• " + (t._(label) if label else v.reason))
    if v.detail:
        lines.append(f"• {v.detail}")
    return "\n".join(lines)


def head_message(t: Texts, v: HeadView, report_id: int, *, due: datetime, reminder: bool) -> Reply:
    """The message to the ketua RT: a new report of their RT, or the reminder the day before."""
    if reminder:
        top = t._("Reminder: this report from your RT is still waiting for your answer.")
    else:
        top = t._("As ketua RT: a new report from your RT needs your answer.")
    bottom = t._(
        "Is this report right, as far as you know? Please answer by {when}. Without an answer "
        "it goes on to Dinsos without your opinion.",
        when=t.datetime(due),
    )
    return Reply(f"{top}\n\n{head_view_text(t, v)}\n\n{bottom}", answer_choices(t, report_id))


async def tell_head(
    conn, head, report_id: int, *, now: datetime, default_locale: str = "id", reminder=False
) -> list[int]:
    """Queue the message about a report waiting for this head (in the caller's transaction) and
    record it in the report's history; the outbox ids."""
    report = await store.by_id(conn, report_id)
    if report is None or head.conversation_id is None:
        return []
    v = await head_view(conn, report)
    due = report.rt_due_at or now
    ids = await notify(
        conn,
        head.conversation_id,
        lambda t: head_message(t, v, report.id, due=due, reminder=reminder),
        now=now,
        default_locale=default_locale,
    )
    if ids:
        note = "Pengingat dikirim ke ketua RT" if reminder else "Dikirim ke ketua RT"
        await _event(
            conn, report.id, now, "sistem", "rt_remind" if reminder else "rt_notify", note=note
        )
    return ids


async def waiting_for_head(conn, head, limit: int = 10):
    """Reports of this head's RT waiting for the head's answer, oldest first."""
    return await store.in_area_state(
        conn, head.kelurahan_code, head.rw, head.rt, R.VERIFIKASI_RT, limit
    )


async def _of_head(conn, head, report_id: int):
    report = await store.by_id(conn, report_id)
    if (
        report is None
        or report.kelurahan_code != head.kelurahan_code
        or report.rw != head.rw
        or report.rt != head.rt
    ):
        raise ReportError("not_your_rt")
    return report


async def rt_answer(
    conn,
    head,
    report_id: int,
    answer: str | bool,
    note: str = "",
    *,
    now: datetime,
    default_locale: str = "id",
) -> list[int]:
    """The ketua RT answers for a report of their own RT ("yes" right, "no" not right, "unk" does
    not know; True/False for yes/no); it goes on to Dinsos with the head's opinion."""
    key = {True: "yes", False: "no"}.get(answer, answer) if isinstance(answer, bool) else answer
    if key not in ANSWERS:
        raise ReportError("unknown_answer", str(answer))
    report = await _of_head(conn, head, report_id)
    if report.state != R.VERIFIKASI_RT:
        raise ReportError("changed", report.code)
    opinion, action = ANSWERS[key]
    return await move(
        conn,
        report,
        R.VERIFIKASI_DINSOS,
        now=now,
        actor=f"rt:{head.id}",
        note=note,
        rt_opinion=opinion,
        action=action,
        default_locale=default_locale,
    )


async def rt_note(conn, head, report_id: int, note: str, *, now: datetime) -> str:
    """The head's short note after answering, kept in the report's history; the report code."""
    report = await _of_head(conn, head, report_id)
    await _event(conn, report.id, now, f"rt:{head.id}", "rt_note", note=note[:1000])
    return report.code


async def remind_heads(conn, now: datetime, deps) -> list[int]:
    """Scheduler job: the day before the RT answer is due, remind the ketua RT once of each
    report still waiting for them (rt_reminded_at records it; a second run sends nothing)."""
    due = await store.rt_reminders_due(conn, R.VERIFIKASI_RT, now, now + REMIND_BEFORE)
    ids: list[int] = []
    for report in due:
        if report.rt_due_at - report.created_at <= REMIND_BEFORE:
            # an answer time of a day or less: the first message was the reminder
            await store.mark_rt_reminded(conn, report.id, now)
            continue
        head = await active_head_for_area(conn, report.kelurahan_code, report.rw, report.rt)
        if head is None or head.conversation_id is None:
            continue
        if not await store.mark_rt_reminded(conn, report.id, now):
            continue
        ids += await tell_head(
            conn, head, report.id, now=now, default_locale=deps.default_locale, reminder=True
        )
    return ids


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
