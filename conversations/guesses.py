"""Codes typed by hand (a ketua RT invitation, a staff link code, a report code): at most
CODE_LIMIT that did not work per conversation an hour, on top of each code's space. The times of
the failures are carried data (they survive moves between flows), one key per kind of code."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.engine import Ctx

CODE_LIMIT, CODE_WINDOW = 5, timedelta(hours=1)


class Guesses:
    def __init__(self, key: str):
        assert key.startswith("__"), "carried data keys start with __"
        self.key = key

    def _recent(self, ctx: Ctx) -> list[str]:
        return [
            f
            for f in ctx.data.get(self.key, [])
            if datetime.fromisoformat(f) > ctx.now - CODE_WINDOW
        ]

    def locked(self, ctx: Ctx) -> str | None:
        """The polite refusal when this conversation used up its tries, else None."""
        fails = self._recent(ctx)
        if len(fails) < CODE_LIMIT:
            return None
        until = datetime.fromisoformat(min(fails)) + CODE_WINDOW
        return ctx._(
            "Too many codes that did not work. Please try again after {when}.",
            when=ctx.t.datetime(until),
        )

    def failed(self, ctx: Ctx) -> None:
        ctx.data[self.key] = [*self._recent(ctx), ctx.now.isoformat()]

    def worked(self, ctx: Ctx) -> None:
        ctx.data.pop(self.key, None)
