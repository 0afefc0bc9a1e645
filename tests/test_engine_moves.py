"""The engine's silent moves (Ctx.rest_at and friends), and the rule that flows only talk:
no module in conversations/ sets the engine's state or spells its reserved keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from core.engine import CHOICES, STUCK, Ctx, Engine, EngineHooks, State
from core.model import Choice, Event

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def _ctx(flow="kube", step="name", data=None) -> Ctx:
    st = State(
        id=1,
        user_key="console:a",
        channel="console",
        address="a",
        locale="en",
        flow=flow,
        step=step,
        data=dict(data or {}),
        owner="bot",
        role="warga",
        household_id=None,
        consent_version="1",
        misunderstood=0,
        last_activity_at=NOW,
    )
    ev = Event("console", "console:a", "1", "text", {"text": "x"}, "a")
    return Ctx(Engine({}, EngineHooks()), None, st, SimpleNamespace(default_locale="id"), NOW, ev)


def test_rest_at_keeps_data_and_choices():
    ctx = _ctx(data={"name": "Maju", "__person_id": 7})
    ctx.say("Done.", [Choice("g:menu", "Main menu")])
    ctx.rest_at("training", "after")
    assert (ctx.state.flow, ctx.state.step) == ("training", "after")
    assert ctx.data == {"name": "Maju", "__person_id": 7, CHOICES: [["g:menu", "Main menu"]]}
    assert [r.text for r in ctx.replies] == ["Done."]  # no prompt asked


def test_rest_in_menu():
    ctx = _ctx(data={"gid": 3})
    ctx.rest_in_menu()
    assert (ctx.state.flow, ctx.state.step, ctx.data) == ("menu", "main", {"gid": 3})


def test_hand_to_staff_keeps_only_carried_data():
    ctx = _ctx(
        flow="handoff",
        step="ask",
        data={"x": 1, "__person_id": 7, CHOICES: [["g:cancel", "Cancel"]]},
    )
    ctx.hand_to_staff("handoff", "waiting")
    st = ctx.state
    assert (st.owner, st.flow, st.step, st.data) == (
        "staff",
        "handoff",
        "waiting",
        {"__person_id": 7},
    )
    ctx.hand_back()
    assert st.owner == "bot"


def test_pop_stuck_and_offer():
    ctx = _ctx(data={STUCK: 1})
    assert ctx.pop_stuck() is True
    assert ctx.pop_stuck() is False
    ctx.offer([Choice("m:myreports", "My reports")])
    assert ctx.data[CHOICES] == [["m:myreports", "My reports"]]
    assert ctx.replies == []


def test_flows_only_talk():
    sets_state = re.compile(r"state\.(flow|step)\s*=")
    engine_keys = re.compile(r"[\"'](__stuck|_choices)[\"']")
    for path in sorted((ROOT / "conversations").glob("*.py")):
        src = path.read_text(encoding="utf-8")
        assert not sets_state.search(src), f"{path.name} moves the conversation by hand"
        assert not engine_keys.search(src), f"{path.name} spells an engine key"
        if path.name != "identity.py":
            assert "__after_match" not in src and "__person_id" not in src, path.name
