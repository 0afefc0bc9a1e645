"""Every flow the engine knows. A new flow is a module with a Flow, added here."""

from __future__ import annotations

from conversations import (
    check,
    contact,
    handoff,
    kube,
    menu,
    onboarding,
    reports,
    rt,
    training,
    uep,
)
from conversations.hooks import Hooks
from core.engine import Engine
from services import reports as report_ops
from services import retention, tickets
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
    reports.myreports,
    rt.rt,
    contact.contact,
)
# Scheduled jobs (core/scheduler.py): async fn(conn, now, deps) -> outbox ids.
JOBS: tuple = (
    tickets.sla_job,
    training_ops.remind_job,
    training_ops.allocate_job,
    report_ops.forward_unanswered,
    retention.retention_job,
)


def build_engine() -> Engine:
    return Engine({f.name: f for f in FLOWS}, Hooks())
