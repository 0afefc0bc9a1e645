"""One health answer, shared by the channels (handlers/plugin.py's `health()`), the sender state
(core/metrics.py) and /readyz (web/observe.py). `detail` is for an operator: a state, a count, an
exception's class name; never a resident's data, a token or a URL with a token in it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str

    def json(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}
