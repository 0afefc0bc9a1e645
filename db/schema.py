"""Tables (SQLAlchemy Core). One metadata for the app and for Alembic.

Core tables rather than ORM classes: the hot path (inbox, state, lookup, outbox) runs a handful
of Core statements per event, which is what docs/performance.md says matters most.
All timestamps are stored in UTC (UTCDateTime); residents see Asia/Jakarta.
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --- DTSEN extract -------------------------------------------------------------------------

households = sa.Table(
    "households",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("no_kk", sa.String(16), nullable=False, unique=True),
    sa.Column("alamat", sa.String(255), nullable=False, server_default=""),
    sa.Column("rt", sa.String(3), nullable=False),
    sa.Column("rw", sa.String(3), nullable=False),
    sa.Column("kelurahan_code", sa.String(10), nullable=False, index=True),
    sa.Column("kecamatan_code", sa.String(6), nullable=False),
    sa.Column("desil", sa.SmallInteger, nullable=False),
    sa.Column("data_date", sa.Date, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("nik", sa.String(16), nullable=False, unique=True),
    sa.Column(
        "household_id", sa.Integer, sa.ForeignKey("households.id"), nullable=False, index=True
    ),
    sa.Column("nama", sa.String(120), nullable=False),
    sa.Column("jenis_kelamin", sa.String(1), nullable=False),
    sa.Column("tanggal_lahir", sa.Date, nullable=False),
    sa.Column("hubungan", sa.String(16), nullable=False),
    sa.Column("disabilitas", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Programs a person receives now, from the extract's `program` column (household programs such
# as PKH are listed on the members' rows; a household holds the union).
program_memberships = sa.Table(
    "program_memberships",
    metadata,
    sa.Column(
        "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("program_code", sa.String(16), primary_key=True),
)

data_imports = sa.Table(
    "data_imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("data_date", sa.Date, nullable=False),
    sa.Column("rows_total", sa.Integer, nullable=False),
    sa.Column("rows_imported", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
)

# A dashboard DTSEN import, run as a background job by the service (web/imports.py,
# services/import_jobs.py). state: queued -> running -> done | failed. At most one job is
# queued or running at a time, across processes: the unique partial index on `kind`.
# `error` and `errors` never hold an NIK or No. KK (the validator's reasons mask them).
IMPORT_ACTIVE = "state IN ('queued', 'running')"
import_jobs = sa.Table(
    "import_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "dtsen"
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("phase", sa.String(16), nullable=False, server_default=""),  # checking|importing
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("data_date", sa.Date, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(64), nullable=False),  # the process running it (host:pid:token)
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("heartbeat_at", UTCDateTime, nullable=True),
    sa.Column("rows_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_imported", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("households", sa.Integer, nullable=False, server_default="0"),
    sa.Column("people_new", sa.Integer, nullable=False, server_default="0"),
    sa.Column("people_updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("import_id", sa.Integer, nullable=True),  # data_imports.id when done
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("errors", sa.JSON, nullable=True),  # the first row errors ("baris N: ...")
    sa.Index(
        "uq_import_jobs_active",
        "kind",
        unique=True,
        sqlite_where=sa.text(IMPORT_ACTIVE),
        postgresql_where=sa.text(IMPORT_ACTIVE),
    ),
)

# --- Conversations -------------------------------------------------------------------------

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_key", sa.String(128), nullable=False, unique=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(128), nullable=False),  # where replies go (chat id, wa id)
    sa.Column("locale", sa.String(8), nullable=True),  # null until chosen
    sa.Column("flow", sa.String(32), nullable=False, server_default="start"),
    sa.Column("step", sa.String(32), nullable=False, server_default="start"),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("owner", sa.String(8), nullable=False, server_default="bot"),  # bot | staff
    sa.Column("role", sa.String(16), nullable=False, server_default="warga"),  # warga | rt
    sa.Column("household_id", sa.Integer, sa.ForeignKey("households.id"), nullable=True),
    sa.Column("consent_version", sa.String(16), nullable=True),
    sa.Column("misunderstood", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("last_activity_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

inbound_events = sa.Table(
    "inbound_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("external_id", sa.String(128), nullable=False),
    sa.Column("user_key", sa.String(128), nullable=False),
    sa.Column("address", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("locale_hint", sa.String(8), nullable=True),
    sa.Column(
        "status", sa.String(8), nullable=False, server_default="pending"
    ),  # pending|done|failed|dead (dead: a transient error outlived its retries)
    # Processing attempts that ended in a transient error (database, network); the sweeper
    # retries a pending event until core.inbox.MAX_EVENT_ATTEMPTS, then it is `dead`.
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("processed_at", UTCDateTime, nullable=True),
    sa.Column("error", sa.String(255), nullable=True),
    sa.UniqueConstraint("channel", "external_id"),
    sa.Index("ix_inbound_events_user_status", "user_key", "status", "id"),
    sa.Index("ix_inbound_events_status", "status"),
)

outbound_messages = sa.Table(
    "outbound_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("user_key", sa.String(128), nullable=False),
    sa.Column("address", sa.String(128), nullable=False),
    sa.Column("inbound_event_id", sa.Integer, sa.ForeignKey("inbound_events.id"), nullable=True),
    # Rendered reply: {"text": ..., "choices": [[id, label], ...], "request": null|"location"|"photo"}
    sa.Column("payload", sa.JSON, nullable=False),
    # queued -> sending -> sent | failed | stopped | held ; "sending" is the claim that prevents a
    # 2nd send; "held" waits for the channel to allow sending again (WhatsApp 24 h window)
    sa.Column("status", sa.String(8), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    # Times the row was found in `sending` at start-up (caught mid-request) and queued again: it
    # is resent at most once (1), a second interruption fails it.
    sa.Column("interrupted", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.String(255), nullable=True),
    sa.Column("external_id", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    # The lease (docs/scaling.md): the worker holding this queued or sending row in memory, and
    # until when (renewed while it lives). Another worker takes the row, or recovers it when it
    # was caught mid-request, only once the lease has expired.
    sa.Column("lease_owner", sa.String(80), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Index("ix_outbound_messages_status_next", "status", "next_attempt_at"),
    sa.Index("ix_outbound_messages_external_id", "external_id"),  # delivery statuses join here
    sa.Index("ix_outbound_messages_user_status", "user_key", "status"),  # held rows of a user
)

# Scheduled jobs (core/scheduler.py): one row per job, written by the fleet's leader in the job's
# own transaction. A tick is floor(epoch seconds / interval); the leader skips a job whose
# `last_tick` is this tick already (a restart or a takeover within a tick); `runs` counts the runs
# (docs/scaling.md: runs <= last_tick - first_tick + 1 while the leader lock works).
scheduled_jobs = sa.Table(
    "scheduled_jobs",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_tick", sa.BigInteger, nullable=False),
    sa.Column("last_tick", sa.BigInteger, nullable=False),
    sa.Column("last_run_at", UTCDateTime, nullable=False),
    sa.Column("last_worker", sa.String(80), nullable=False),
)

# --- WhatsApp (handlers/whatsapp/, stores in db/whatsapp_store.py) ----------------------------

# One row per WhatsApp user: the business-scoped user id (BSUID) and the phone number (wa_id)
# linked under one user key, where replies go, and the 24-hour customer-service window.
wa_contacts = sa.Table(
    "wa_contacts",
    metadata,
    sa.Column("user_key", sa.String(128), primary_key=True),  # "wa:<BSUID or wa_id>", never changes
    sa.Column("bsuid", sa.String(160), nullable=True, unique=True),
    sa.Column("wa_id", sa.String(32), nullable=True, unique=True),
    sa.Column("address", sa.String(160), nullable=False, index=True),  # what replies are sent to
    sa.Column(
        "last_inbound_at", UTCDateTime, nullable=True
    ),  # the user's newest message (its timestamp)
    sa.Column("template_sent_at", UTCDateTime, nullable=True),  # the "reply waiting" template
    # Meta said the window was closed (error 131047) at this time, though our clock said open;
    # a message written after it opens the window again.
    sa.Column("window_closed_at", UTCDateTime, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Delivery statuses Meta reports for what we sent (sent, delivered, read, failed), keyed by the
# wamid that outbound_messages.external_id holds. One row per (wamid, status): redelivery is a no-op.
wa_statuses = sa.Table(
    "wa_statuses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("wamid", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime, nullable=True),  # Meta's timestamp
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_title", sa.String(255), nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("wamid", "status"),
)

check_attempts = sa.Table(
    "check_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("nik_hash", sa.String(64), nullable=False),  # keyed hash, never the NIK
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_check_attempts_conv_at", "conversation_id", "at"),
    sa.Index("ix_check_attempts_nik_at", "nik_hash", "at"),
)

# --- Accountability ------------------------------------------------------------------------

consent_log = sa.Table(
    "consent_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_key", sa.String(128), nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("notice_version", sa.String(16), nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),  # agree | decline
    sa.Column("locale", sa.String(8), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),  # "cli:import-dtsen", "tg:123", "staff:ani"
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(128), nullable=True),
    sa.Column("detail", sa.JSON, nullable=True),
)


# ============================================================================ staff (dashboard)

# Dinsos staff who use the web dashboard. Roles: admin (everything, reads the audit log),
# verifikator (works the queues city-wide), operator (one kelurahan only: kelurahan_code).
staff_users = sa.Table(
    "staff_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),  # stored lowercased
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("kelurahan_code", sa.String(13), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id (argon2-cffi)
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_login_at", UTCDateTime, nullable=True),
    # Set by `bot.py staff reset` (a one-time password): after login the account reaches only
    # the "Ganti kata sandi" page until a new password is chosen.
    sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
)

# A login session: the cookie holds a random token, the table only its sha256; every form
# carries the session's CSRF token. Sessions end after an idle time or an absolute lifetime.
staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# Failed logins, for throttling per username and per client address (keyed hashes, no IPs).
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(80), nullable=False),  # "u:<hash>" or "ip:<hash>"
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_login_failures_key_at", "key", "at"),
)


# ============================================================================ handoff (tickets)

# A resident asked for a person ("Tanya petugas", or after the bot failed to understand twice).
# While a ticket is open the conversation's owner is "staff" and the bot stays silent.
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=False, index=True
    ),
    sa.Column("status", sa.String(8), nullable=False),  # open | closed
    sa.Column("reason", sa.String(8), nullable=False),  # asked | stuck
    sa.Column("kelurahan_code", sa.String(13), nullable=True),  # from the matched household
    sa.Column("assigned_to", sa.Integer, sa.ForeignKey("staff_users.id"), nullable=True),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),  # first answer due (office hours)
    sa.Column("first_response_at", UTCDateTime, nullable=True),
    sa.Column("last_message_at", UTCDateTime, nullable=False),
    sa.Column("supervisor_flag_at", UTCDateTime, nullable=True),
    sa.Column("head_flag_at", UTCDateTime, nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("closed_by", sa.String(8), nullable=True),  # staff | resident
    sa.Column("rating", sa.SmallInteger, nullable=True),  # 1-5, from the resident
    sa.Index("ix_tickets_status_opened", "status", "opened_at"),
)

ticket_messages = sa.Table(
    "ticket_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "ticket_id",
        sa.Integer,
        sa.ForeignKey("tickets.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(8), nullable=False),  # resident | staff | note | system
    sa.Column("staff_id", sa.Integer, sa.ForeignKey("staff_users.id"), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# --- KUBE, UEP and skills training (issue #4; docs/kube-training.md) ---------------------------
# Person ids, never NIK copies. Counters (member_count, seats_taken) are changed only by
# conditional UPDATEs, so two residents taking the last place at once cannot both get it.

kube_groups = sa.Table(
    "kube_groups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(8), nullable=False, unique=True),  # join code shared by the ketua
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("business_type", sa.String(32), nullable=False),  # programs.toml [kube] code
    sa.Column("kelurahan_code", sa.String(10), nullable=False, index=True),
    # DRAFT -> DIAJUKAN -> DISETUJUI | DITOLAK
    sa.Column("status", sa.String(10), nullable=False, server_default="DRAFT"),
    sa.Column("member_count", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("reason", sa.String(255), nullable=True),  # why staff rejected it
    sa.Column("created_by", sa.Integer, sa.ForeignKey("people.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
)

kube_members = sa.Table(
    "kube_members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "group_id", sa.Integer, sa.ForeignKey("kube_groups.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id"), nullable=False, index=True),
    sa.Column("household_id", sa.Integer, sa.ForeignKey("households.id"), nullable=False),
    sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=True),
    sa.Column("role", sa.String(10), nullable=False),  # ketua | sekretaris | bendahara | anggota
    sa.Column("joined_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("group_id", "person_id"),
)

kube_events = sa.Table(
    "kube_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "group_id",
        sa.Integer,
        sa.ForeignKey("kube_groups.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),  # "warga", "cli"
    # created, joined, left, removed, role, submitted, approved, rejected
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id"), nullable=True),
    sa.Column("detail", sa.String(255), nullable=True),
)

uep_applications = sa.Table(
    "uep_applications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id"), nullable=False, index=True),
    sa.Column("household_id", sa.Integer, sa.ForeignKey("households.id"), nullable=False),
    sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=True),
    sa.Column("business", sa.String(160), nullable=False),
    sa.Column("duration", sa.String(8), nullable=False),  # lt1 | 1to3 | gt3 (years)
    sa.Column("needs", sa.String(255), nullable=False),
    sa.Column(
        "status", sa.String(10), nullable=False, server_default="DIAJUKAN"
    ),  # | DISETUJUI | DITOLAK
    sa.Column("reason", sa.String(255), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=True),
)

training_sessions = sa.Table(
    "training_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(120), nullable=False),
    sa.Column("sector", sa.String(32), nullable=False),  # programs.toml [training] code
    sa.Column("organiser", sa.String(120), nullable=False),
    sa.Column("kecamatan_code", sa.String(6), nullable=False, index=True),
    sa.Column("place", sa.String(160), nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("days", sa.SmallInteger, nullable=False),
    sa.Column("quota", sa.SmallInteger, nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),  # last day to register (Asia/Jakarta)
    sa.Column("desil_max", sa.SmallInteger, nullable=False),
    sa.Column("age_min", sa.SmallInteger, nullable=False),
    sa.Column("age_max", sa.SmallInteger, nullable=False),
    sa.Column(
        "priority", sa.Boolean, nullable=False
    ),  # DTSEN priority: seats given at the deadline
    sa.Column("notes", sa.String(255), nullable=True),
    sa.Column("seats_taken", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("allocated_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

training_registrations = sa.Table(
    "training_registrations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id",
        sa.Integer,
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id"), nullable=False, index=True),
    sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=True),
    sa.Column("code", sa.String(8), nullable=False, unique=True),
    # CONFIRMED | WAITLIST | PENDING (priority session before the deadline) | CANCELLED
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("desil", sa.SmallInteger, nullable=False),  # at registration, for priority allocation
    sa.Column("registered_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("reminded_3d_at", UTCDateTime, nullable=True),
    sa.Column("reminded_1d_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("session_id", "person_id"),
    sa.Index("ix_training_registrations_session_status", "session_id", "status", "id"),
)


# --- Data-error reports and RT heads (issue #5; domain/reports.py, docs/reports.md) ---------

# A report about a household: usul, sanggah, koreksi, graduasi mandiri. The target is a
# household in the extract (household_id) or one named by name, address and RT/RW. A target's
# NIK / No. KK is kept only when the reporter gave it for an usul about another household.
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(16), nullable=False, unique=True),  # LPR-XXXX-XXXX
    sa.Column("category", sa.String(12), nullable=False),  # USUL | SANGGAH | KOREKSI | GRADUASI
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("outcome", sa.String(12), nullable=True),  # set with SELESAI
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),  # optimistic lock
    sa.Column(
        "reporter_conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=True
    ),
    sa.Column("reporter_person_id", sa.Integer, sa.ForeignKey("people.id"), nullable=True),
    sa.Column("reporter_role", sa.String(8), nullable=False),  # warga | rt
    sa.Column("household_id", sa.Integer, sa.ForeignKey("households.id"), nullable=True),
    sa.Column(
        "target_key", sa.String(128), nullable=False
    ),  # merge key (domain.reports.target_key)
    sa.Column("target_name", sa.String(120), nullable=True),
    sa.Column("target_address", sa.String(255), nullable=True),
    sa.Column("target_nik", sa.String(16), nullable=True),
    sa.Column("target_kk", sa.String(16), nullable=True),
    sa.Column("kelurahan_code", sa.String(10), nullable=False),
    sa.Column("rw", sa.String(3), nullable=True),
    sa.Column("rt", sa.String(3), nullable=True),
    sa.Column("reason", sa.String(16), nullable=True),  # a code from domain.reports
    sa.Column("detail", sa.String(1000), nullable=True),  # in the reporter's words
    # The reporter's own account (the optional story step, and free text typed at any step
    # that asked for something else). Dinsos only: never shown to the ketua RT.
    sa.Column("story", sa.String(2000), nullable=True),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column(
        "rt_opinion", sa.String(16), nullable=True
    ),  # SETUJU | TIDAK_SETUJU | TIDAK_TAHU | TANPA_JAWABAN
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),  # [sla].verification_days after created_at
    sa.Column("rt_due_at", UTCDateTime, nullable=True),  # [sla].rt_answer_days, at VERIFIKASI_RT
    # the ketua RT was reminded (once), the day before rt_due_at (services.reports.remind_heads)
    sa.Column("rt_reminded_at", UTCDateTime, nullable=True),
    sa.Index("ix_reports_state_due", "state", "due_at"),
    sa.Index("ix_reports_target", "category", "target_key", "state"),
    sa.Index("ix_reports_rt", "kelurahan_code", "rw", "rt", "state"),
    sa.Index("ix_reports_reporter", "reporter_conversation_id"),
)

# Every step of a report: who, when, from which state to which, and a note. Also a merged
# duplicate (action "merge", the second reporter's conversation), so they are told too.
report_events = sa.Table(
    "report_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "report_id",
        sa.Integer,
        sa.ForeignKey("reports.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column(
        "actor", sa.String(128), nullable=False
    ),  # "warga", "rt:<id>", "staff:<name>", "sistem"
    sa.Column(
        "action", sa.String(16), nullable=False
    ),  # create | move | merge | rt_notify | rt_remind | rt_confirm | rt_dispute | rt_unsure | rt_note
    sa.Column("from_state", sa.String(20), nullable=True),
    sa.Column("to_state", sa.String(20), nullable=True),
    sa.Column("outcome", sa.String(12), nullable=True),
    sa.Column("note", sa.String(1000), nullable=True),
    sa.Column(
        "conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=True, index=True
    ),
)

# Photos attached to a report (house photo for a sanggah, documents for a koreksi). `ref` is what
# the channel's photo event carried (WhatsApp: the sha256 of the stored file; Telegram: file_id).
report_photos = sa.Table(
    "report_photos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "report_id",
        sa.Integer,
        sa.ForeignKey("reports.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(12), nullable=False),  # house | document | other
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("ref", sa.String(160), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Ketua RT: one row from the invitation (a one-time code, stored as its hash) to activation by a
# conversation, until revoked. One active head per (kelurahan, RW, RT); activating a new one
# revokes the previous head.
rt_heads = sa.Table(
    "rt_heads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kelurahan_code", sa.String(10), nullable=False),
    sa.Column("rw", sa.String(3), nullable=False),
    sa.Column("rt", sa.String(3), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # DIUNDANG | AKTIF | DICABUT
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column(
        "conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=True, index=True
    ),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("activated_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Index("ix_rt_heads_area", "kelurahan_code", "rw", "rt", "status"),
)

# Images residents send, on every channel: fetched after the message is stored (Telegram: getFile
# then the file; WhatsApp: media id -> URL -> bytes), checked (JPEG/PNG, at most 5 MB,
# decodable), metadata stripped, stored as <JARING_MEDIA_DIR>/<sha256>.<ext> (core/media.py).
# `media_id` is the channel's handle to fetch it (a Telegram file_id, a WhatsApp media id);
# `ref` is what the photo event carries and report_photos.ref holds (Telegram: the file_id;
# WhatsApp: Meta's sha256 of the file, or "wa-media:<media id>"). Statements: db/media_store.py.
media = sa.Table(
    "media",
    metadata,
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("media_id", sa.String(255), primary_key=True),
    sa.Column("ref", sa.String(255), nullable=False, index=True),
    sa.Column("message_id", sa.String(128), nullable=True),  # the carrying message (WhatsApp wamid)
    sa.Column("user_key", sa.String(128), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # pending | stored | rejected | failed
    sa.Column("mime", sa.String(64), nullable=True),
    sa.Column("size", sa.Integer, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True, index=True),
    sa.Column("path", sa.String(255), nullable=True),
    sa.Column("error", sa.String(255), nullable=True),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime, nullable=True),
)

# Messages the understanding layer could not place (core/engine.py records them on the "not
# understood" path), for staff to grow data/intents.toml: the text and its normalised form are
# MASKED before they are stored (domain/masking.py: long numbers, e-mail addresses; 500
# characters at most). No user key: a miss is not tied to a resident. Purged with the other chat
# data (services/retention.py). Statements: db/nlu_store.py.
nlu_misses = sa.Table(
    "nlu_misses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("locale", sa.String(8), nullable=True),
    sa.Column("flow", sa.String(32), nullable=False),
    sa.Column("step", sa.String(32), nullable=False),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("normalized", sa.String(500), nullable=False),
)


# ============================================================================ staff alerts

# A one-time code a staff member creates on "Akun saya" to link a Telegram or WhatsApp chat to
# their account (STF-XXXX-XXXX, stored as its sha256, single use, short expiry).
staff_link_codes = sa.Table(
    "staff_link_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
)

# A chat that receives a staff member's alerts (services/alerts.py). One staff account may link
# several chats; a chat belongs to one account at most.
staff_chats = sa.Table(
    "staff_chats",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column(
        "conversation_id",
        sa.Integer,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("linked_at", UTCDateTime, nullable=False),
)

# Each alert event is sent once: (kind, ref) is recorded in the transaction that queues it.
# kind: ticket_new | ticket_supervisor | ticket_head | report_late; ref: "T-12" or a report code.
staff_alerts = sa.Table(
    "staff_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("ref", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.UniqueConstraint("kind", "ref"),
)

# --- Phone numbers residents give so that an officer can call them (conversations/contact.py) --
# One row per conversation and matter (a report, a KUBE group, a UEP application): the purpose
# is the matter, the number is E.164 and is shown masked except to staff on demand (audited).
# Purged by retention (services/retention.py, [service].contact_retention_months).

contact_numbers = sa.Table(
    "contact_numbers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "conversation_id",
        sa.Integer,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("household_id", sa.Integer, sa.ForeignKey("households.id"), nullable=True),
    sa.Column("purpose", sa.String(8), nullable=False),  # report | kube | uep
    sa.Column("ref", sa.String(32), nullable=False),  # report code, KUBE group id, UEP id
    sa.Column("phone", sa.String(16), nullable=False),  # E.164, "+6281234567890"
    sa.Column("source", sa.String(8), nullable=False),  # shared (channel) | typed | reused
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, index=True),
    sa.UniqueConstraint("conversation_id", "purpose", "ref"),
    sa.Index("ix_contact_numbers_purpose_ref", "purpose", "ref"),
)
