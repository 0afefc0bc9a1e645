"""Every flow the engine knows. A new flow is a module with a Flow, added here."""

from __future__ import annotations

from conversations import (
    check,
    contact,
    handoff,
    kube,
    menu,
    myreports,
    onboarding,
    reports,
    rt,
    staff_link,
    training,
    uep,
)
from conversations.hooks import Hooks
from core.engine import Engine
from services import alerts, retention, tickets
from services import reports as report_ops
from services import training as training_ops

FLOWS = (
    onboarding.start,
    onboarding.language,
    menu.menu,
    check.check,
    handoff.handoff,
    handoff.rating,
    kube.kube,
    uep.uep,
    training.training,
    reports.report,
    myreports.myreports,
    rt.rt,
    staff_link.staff_link,
    contact.contact,
)
# Scheduled jobs (core/scheduler.py): async fn(conn, now, deps) -> outbox ids.
JOBS: tuple = (
    tickets.sla_job,
    training_ops.remind_job,
    training_ops.allocate_job,
    report_ops.remind_heads,
    report_ops.forward_unanswered,
    retention.retention_job,
    alerts.late_reports_job,
)


def build_engine() -> Engine:
    return Engine({f.name: f for f in FLOWS}, Hooks())
