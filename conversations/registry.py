"""Every flow the engine knows. A new flow is a module with a Flow, added here."""
from __future__ import annotations

from conversations import check, menu, onboarding, report_ops, reports, rt
from conversations.common import Hooks
from conversations.engine import Engine

FLOWS = (onboarding.start, onboarding.language, menu.menu, check.check, reports.report,
         reports.myreports, rt.rt)
# Scheduled jobs (conversations/scheduler.py): async fn(conn, now, deps) -> outbox ids.
JOBS: tuple = (report_ops.forward_unanswered,)


def build_engine() -> Engine:
    return Engine({f.name: f for f in FLOWS}, Hooks())
