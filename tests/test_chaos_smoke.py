"""The fault suite (`make chaos`, tools/chaos.py) runs: one quick kill -9 scenario with five
residents on SQLite prints its line. The figures themselves are not asserted here (docs/chaos.md);
the fake server's outage mode and the counting are."""

from __future__ import annotations

import re
import subprocess
import sys

import aiohttp
import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_telegram_e2e import ROOT
from tools.chaos import PER_RESIDENT, Crowd, Pair, Result

pytestmark = pytest.mark.timeout(120)

LINE = re.compile(
    r"^kill9\s+sqlite\s+replies expected (\d+) sent (\d+) twice (\d+) lost (\d+) \| "
    r"reports (\d+) lost (\d+) doubled (\d+) \| kill -9 x1, longest restart [\d.]+ s",
    re.M,
)


@pytest.mark.serial
def test_quick_kill9_scenario_prints_its_line():
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.chaos",
            "--quick",
            "--scenario",
            "kill9",
            "--residents",
            "5",
            "--kills",
            "1",
            "--kill-gap",
            "2",
            "--settle",
            "8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    m = LINE.search(res.stdout)
    assert m, res.stdout + res.stderr
    expected, sent, twice, lost, reports, r_lost, r_doubled = map(int, m.groups())
    assert expected == 5 * PER_RESIDENT and reports == 5
    assert 0 <= lost <= expected and 0 <= r_lost <= reports
    assert sent >= expected - lost  # every reply counted as delivered was sent


async def test_fake_outage_answers_every_send_until_it_ends():
    async with FakeTelegramAPI() as fake:
        url = f"{fake.base_url}/bot42:TEST/sendMessage"
        async with aiohttp.ClientSession() as s:
            fake.outage_for(30, 429, retry_after=7)
            async with s.post(url, json={"chat_id": 1, "text": "a"}) as r:
                body = await r.json()
                assert r.status == 429 and body["parameters"] == {"retry_after": 7}
            async with s.post(f"{fake.base_url}/bot42:TEST/getMe") as r:
                assert r.status == 200  # only sendMessage is down
            async with s.post(
                f"{fake.base_url}/_fake/outage", json={"seconds": 30, "status": 502}
            ) as r:
                assert r.status == 200
            async with s.post(url, json={"chat_id": 1, "text": "b"}) as r:
                assert r.status == 502
            fake.end_outage()
            async with s.post(url, json={"chat_id": 1, "text": "c"}) as r:
                assert r.status == 200
        assert [m["text"] for m in fake.sent] == ["c"] and fake.outage_answers == 2


async def test_tally_counts_lost_twice_and_report_codes():
    async with FakeTelegramAPI() as fake:
        crowd = Crowd(fake, [Pair("3271010101010001", "3271010101010002")], 2, base=10)
        texts = [f"reply {i}" for i in range(PER_RESIDENT - 1)] + [
            "Terima kasih.\nKode: LPR-AAAA-BBBB"
        ]
        for t in texts + ["reply 3", "Terima kasih.\nKode: LPR-AAAA-BBBB"]:
            fake._by_chat[10].append({"text": t})
        fake._by_chat[11].extend({"text": t} for t in texts[:5])
        r = crowd.tally(Result("x", "sqlite"))
        assert (r.expected, r.sent, r.twice, r.lost) == (
            2 * PER_RESIDENT,
            PER_RESIDENT + 2 + 5,
            2,
            PER_RESIDENT - 5,
        )
        assert (r.reports, r.reports_lost, r.reports_doubled) == (2, 1, 1)
        assert r.bad and "twice 2" in r.line()
