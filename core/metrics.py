"""The service's Prometheus metrics, in one place (docs/observe.md lists each with its meaning).

The hot path calls the small functions below, one line per hook (core/inbox.py, core/outbox.py,
conversations/check.py); web/observe.py serves them at /metrics together with the figures read
from the database at scrape time (`db/observe_store.py`). Labels are only channel keys ("tg",
"wa", "web", ...), results and states: never a user key, an address or any resident's data.

Counters and histograms live in prometheus-client's default registry, so its process collector
(`process_resident_memory_bytes`, CPU seconds, open fds) comes along. Each process counts its own
events; with PROMETHEUS_MULTIPROC_DIR set (prometheus-client's multiprocess mode) every worker's
/metrics serves the sum over the workers (docs/observe.md, "Several workers").

The sender state per channel (`Senders`, one per outbox) is kept here too: the outbox reports
each send's outcome once, and /readyz reads whether a channel's last attempt failed with no
success since.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from prometheus_client import Counter, Histogram, disable_created_metrics

from core.health import Health

# One sample per series, not two: the `_created` twin of each counter doubles the page for no
# use here (Prometheus notices resets by itself).
disable_created_metrics()

INBOUND = Counter(
    "jaring_inbound_events",
    "Inbound events by channel and result: received (stored, new), duplicate (a redelivery, "
    "nothing stored), processed, failed (a bug met this input: apology sent), dead_lettered "
    "(transient errors outlived the retries: apology sent).",
    ["channel", "result"],
)
INBOUND_RETRIES = Counter(
    "jaring_inbound_retries",
    "Processing attempts that ended in a transient error (database, network); the event stays "
    "pending and is retried.",
)
LATENCY = Histogram(
    "jaring_event_processing_seconds",
    "Per event received by this process: seconds from its arrival (the inbox's commit) to the "
    "commit of its replies.",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
SENDS = Counter(
    "jaring_outbound_sends",
    "Send attempts by channel and what the transport answered: sent, retry (network, 5xx, "
    "unexpected error), rate_limited (429 with retry_after), failed (final answer), stopped "
    "(blocked bot: the chat's queue stops), held (WhatsApp outside the 24-hour window).",
    ["channel", "result"],
)
SEND_RETRIES = Counter(
    "jaring_outbound_retries",
    "Outbound rows put back in the queue for another try after a retryable error.",
    ["channel"],
)
SEND_GAVE_UP = Counter(
    "jaring_outbound_gave_up",
    "Outbound rows failed because retryable errors lasted past the send horizon "
    "(JARING_SEND_HORIZON_HOURS).",
    ["channel"],
)
RESENT_AT_START = Counter(
    "jaring_outbound_resent_at_start",
    "Rows found in `sending` at start-up (caught mid-request by a crash), queued again once.",
)
CHECK_LOCKS = Counter(
    "jaring_check_locks",
    "NIK + No. KK checks locked by a failed attempt (too many failures for the conversation "
    "or the NIK).",
)
CHECK_LOCK_REFUSALS = Counter(
    "jaring_check_lock_refusals",
    "Times a resident was told that checking is paused (a locked conversation or NIK).",
)

JOB_RUNS = Counter(
    "jaring_scheduler_job_runs",
    "Scheduled job runs in this process by job and result (ok, failed). With several workers "
    "only the leader runs them: summed over the fleet, one run per job and tick.",
    ["job", "result"],
)

# The labelled children, looked up once: `Counter.labels()` validates and locks on each call,
# several times the cost of the increment itself.
_CHILDREN: dict[tuple, Any] = {}


def _child(metric, *labels: str):
    child = _CHILDREN.get((metric, labels))
    if child is None:
        child = _CHILDREN[(metric, labels)] = metric.labels(*labels)
    return child


# Arrival times of the events this process stored and has not processed yet, by (channel,
# external id), for LATENCY. Bounded: under a backlog the oldest are forgotten (not measured).
_ARRIVALS: OrderedDict[tuple[str, str], float] = OrderedDict()
ARRIVALS_MAX = 50_000


def stored(channel: str, external_id: str, new: bool) -> None:
    """The inbox committed an event (new) or found it stored before (a redelivery)."""
    _child(INBOUND, channel, "received" if new else "duplicate").inc()
    if new:
        _ARRIVALS[(channel, external_id)] = time.perf_counter()
        if len(_ARRIVALS) > ARRIVALS_MAX:
            _ARRIVALS.popitem(last=False)


def finished(channel: str, external_id: str, result: str = "processed") -> None:
    """An event's processing committed: processed, failed or dead_lettered."""
    _child(INBOUND, channel, result).inc()
    start = _ARRIVALS.pop((channel, external_id), None)
    if start is not None and result == "processed":
        _child(LATENCY, channel).observe(time.perf_counter() - start)


# --- sends --------------------------------------------------------------------------------


class Senders:
    """Each channel's sender state, kept by one outbox (Outbox.senders): when a message last
    went out, when the transport last failed and how (an exception name or an HTTP status)."""

    def __init__(self) -> None:
        self._state: dict[str, list] = {}  # channel -> [ok at, failed at, kind] (monotonic)

    def note(self, channel: str, result: str, reason: str | None) -> None:
        state = self._state.setdefault(channel, [None, None, ""])
        if result == "sent":
            state[0] = time.monotonic()
        elif result == "retry":
            state[1] = time.monotonic()
            # The reason's first word only: the rest may hold a URL.
            state[2] = (reason or "error").split(":", 1)[0].split(" ", 1)[0][:60]

    def health(self, channel: str) -> Health:
        """Whether the channel's last send attempt failed (network, 5xx, unexpected error)
        with no message sent since. Final answers (blocked bot, bad request) and 429s are the
        chat's or the rate's business, not the sender's: they leave it healthy."""
        ok_at, err_at, kind = self._state.get(channel, (None, None, ""))
        now = time.monotonic()
        if err_at is not None and (ok_at is None or err_at > ok_at):
            since = f"; last sent {now - ok_at:.0f} s ago" if ok_at is not None else ""
            return Health(False, f"last send failed {now - err_at:.0f} s ago ({kind}){since}")
        if ok_at is None:
            return Health(True, "nothing sent yet")
        return Health(True, f"last sent {now - ok_at:.0f} s ago")


def send_result(senders: Senders, channel: str, result: str, reason: str | None = None) -> None:
    """One send attempt's outcome: counted (SENDS) and noted in the outbox's sender state."""
    _child(SENDS, channel, result).inc()
    senders.note(channel, result, reason)


def send_retry(senders: Senders, channel: str, reason: str, retry_after: float | None) -> None:
    """A retryable answer: `rate_limited` when it carried retry_after (429), else `retry`."""
    send_result(senders, channel, "rate_limited" if retry_after is not None else "retry", reason)


def send_retried(channel: str) -> None:
    """A row put back in the queue for another try."""
    _child(SEND_RETRIES, channel).inc()


def send_gave_up(channel: str) -> None:
    """A row failed at the send horizon."""
    _child(SEND_GAVE_UP, channel).inc()


def job_run(job, result: str) -> None:
    """A scheduled job ran (ok) or raised (failed)."""
    _child(JOB_RUNS, getattr(job, "__name__", "job"), result).inc()
