"""Every flow the engine knows. A new flow is a module with a Flow, added here."""
from __future__ import annotations

from conversations import check, handoff, kube, menu, onboarding, reports, rt, training, uep
from services import retention
from services import reports as report_ops
from conversations.common import Hooks
from core.engine import Engine

FLOWS = (onboarding.start, onboarding.language, menu.menu, check.check, handoff.handoff,
         handoff.rating, kube.kube, uep.uep, training.training, reports.report,
         reports.myreports, rt.rt)
# Scheduled jobs (conversations/scheduler.py): async fn(conn, now, deps) -> outbox ids.
JOBS: tuple = (handoff.sla_job, training.remind_job, training.allocate_job,
               report_ops.forward_unanswered, retention.retention_job)


def build_engine() -> Engine:
    return Engine({f.name: f for f in FLOWS}, Hooks())
