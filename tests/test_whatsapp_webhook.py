"""The WhatsApp webhook in-process: the real Runtime (inbox, engine, outbox, WhatsApp adapter) on
SQLite and PostgreSQL, its web app on 127.0.0.1, and the fake Graph API. Table-driven over the
JSON fixtures in tests/data/wa/ (real webhook shapes)."""

from __future__ import annotations

import hashlib
import socket
import statistics
import time
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot import Runtime
from db.schema import inbound_events, media, outbound_messages, wa_contacts, wa_statuses
from tests.chatkit import SMALL_CSV, Clock, settings_for
from tests.fakes.whatsapp_api import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeWhatsAppAPI,
    body_text,
    button_reply,
    choices,
    contact,
    delivery,
    encode,
    list_reply,
    sign,
    status,
    text_message,
)

DATA = Path(__file__).parent / "data" / "wa"
A, B = "6281200000001", "6281200000002"
BSUID_1, BSUID_2 = "ID.1780000000000001", "ID.1780000000000002"
TS = 1795402740  # the fixtures' timestamp: 2026-11-23 02:59 UTC, a minute before Clock()
JPEG = (DATA / "image.jpg").read_bytes()
JPEG_SHA = hashlib.sha256(JPEG).hexdigest()
IMAGE_MEDIA_ID = "1200000000000001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


@asynccontextmanager
async def wa_runtime(
    db_url: str, tmp_path: Path, *, clock: Clock | None = None, csv=SMALL_CSV, **kw
):
    """A started Runtime with WhatsApp on, talking to a fresh fake Graph API."""
    async with FakeWhatsAppAPI() as fake:
        port = free_port()
        settings = settings_for(
            db_url,
            whatsapp_token=TOKEN,
            whatsapp_phone_number_id=PHONE_NUMBER_ID,
            whatsapp_app_secret=APP_SECRET,
            whatsapp_verify_token=VERIFY_TOKEN,
            whatsapp_api_url=fake.base_url,
            web_port=port,
            whatsapp_rate_per_chat=1000.0,
            jaring_media_dir=tmp_path / "media",
            **kw,
        )
        rt = Runtime(settings, clock=clock or Clock())
        if csv is not None:
            from datetime import date

            from db.dtsen_import import import_dtsen

            report = await import_dtsen(
                rt.db, csv, region=rt.region, programs=rt.programs, data_date=date(2026, 11, 1)
            )
            assert report.imported, report.errors
        await rt.start(web=True)
        rt.fake = fake
        rt.url = f"http://127.0.0.1:{port}/wa/webhook"
        rt.http = aiohttp.ClientSession()
        try:
            yield rt
        finally:
            await rt.http.close()
            await rt.stop()


async def post(rt, body: bytes | dict, *, signature: str | None | bool = True) -> tuple[int, str]:
    """POST a delivery (signed with the app secret unless told otherwise), then wait until the
    service, the outbox and the adapter's background work are idle."""
    raw = encode(body) if isinstance(body, dict) else body
    headers = {"Content-Type": "application/json"}
    if signature is True:
        headers["X-Hub-Signature-256"] = sign(raw)
    elif signature:
        headers["X-Hub-Signature-256"] = signature
    async with rt.http.post(rt.url, data=raw, headers=headers) as r:
        status, text = r.status, await r.text()
    await settle(rt)
    return status, text


async def settle(rt) -> None:
    for _ in range(3):
        await rt.service.idle()
        await rt.outbox.idle()
        await rt.channels["wa"].idle()


async def inbox(rt) -> list[tuple]:
    I = inbound_events.c
    async with rt.db.tx(write=False) as c:
        return [
            tuple(r)
            for r in await c.execute(
                sa.select(I.external_id, I.user_key, I.kind, I.payload).order_by(I.id)
            )
        ]


async def rows(rt, table, *cols, order=None):
    async with rt.db.tx(write=False) as c:
        q = sa.select(*(table.c[x] for x in cols))
        if order is not None:
            q = q.order_by(table.c[order])
        return [tuple(r) for r in await c.execute(q)]


def now_ts(rt) -> int:
    """A message timestamp of 'now' on the runtime's clock (the 24 h window follows it)."""
    return int(rt.service.clock().timestamp())


async def onboard(rt, wa_id: str = A, *, locale: str = "id") -> None:
    ts = now_ts(rt)
    for msg in (
        text_message(wa_id, "halo", ts=ts),
        button_reply(wa_id, "c:agree", ts=ts),
        button_reply(wa_id, f"l:{locale}", ts=ts),
    ):
        assert (await post(rt, delivery(msg)))[0] == 200


# ------------------------------------------------------------------ every fixture, one table

K = f"wa:{A}"
CASES = [
    ("text.json", [("wamid.TEXT0001", K, "text", {"text": "Halo"})]),
    ("button_reply.json", [("wamid.BUTTON0001", K, "choice", {"id": "c:agree"})]),
    ("list_reply.json", [("wamid.LIST0001", K, "choice", {"id": "m:check"})]),
    ("template_button.json", [("wamid.TPLBTN0001", K, "choice", {"id": "g:menu"})]),
    ("location.json", [("wamid.LOC0001", K, "location", {"lat": -6.5971, "lon": 106.806})]),
    ("image.json", [("wamid.IMAGE0001", K, "photo", {"ref": JPEG_SHA})]),
    ("audio.json", [("wamid.AUDIO0001", K, "other", {"type": "audio"})]),
    ("video.json", [("wamid.VIDEO0001", K, "other", {"type": "video"})]),
    ("sticker.json", [("wamid.STICKER0001", K, "other", {"type": "sticker"})]),
    ("reaction.json", [("wamid.REACTION0001", K, "other", {"type": "reaction"})]),
    ("contacts.json", [("wamid.CONTACTS0001", K, "contact", {"own": False})]),  # not theirs
    ("document.json", [("wamid.DOCUMENT0001", K, "other", {"type": "document"})]),
    ("unknown.json", [("wamid.UNKNOWN0001", K, "other", {"type": "unsupported"})]),
    ("bsuid.json", [("wamid.BSUID0001", f"wa:{BSUID_1}", "text", {"text": "Halo"})]),
    ("username_only.json", [("wamid.USERNAME0001", f"wa:{BSUID_2}", "text", {"text": "Halo"})]),
    (
        "batched.json",
        [
            ("wamid.BATCH0001", K, "text", {"text": "menu"}),
            ("wamid.BATCH0002", K, "location", {"lat": -6.6, "lon": 106.8}),
            ("wamid.BATCH0003", f"wa:{B}", "text", {"text": "Halo"}),
        ],
    ),
    ("statuses.json", []),
    ("account_update.json", []),
]


@pytest.mark.parametrize("name,expected", CASES, ids=[c[0] for c in CASES])
async def test_fixture_is_stored_under_its_wamid(db_url, tmp_path, name, expected):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        rt.fake.add_media(IMAGE_MEDIA_ID, JPEG)
        status_code, _ = await post(rt, fixture(name))
        assert status_code == 200
        assert await inbox(rt) == expected
        # Every stored message got its answer (new residents: the privacy notice).
        users = {r[1] for r in expected}
        for user in users:
            to = user.split(":", 1)[1]
            sent = rt.fake.messages_to(to)
            assert sent and "GRATIS" in body_text(sent[0]), sent
        assert rt.fake.refused == []


async def test_redelivery_is_harmless(db_url, tmp_path):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        for _ in range(3):
            assert (await post(rt, fixture("text.json")))[0] == 200
        assert len(await inbox(rt)) == 1
        assert len(rt.fake.messages_to(A)) == 1  # one notice, not three


SIGNATURES = [
    ("missing", None, 401),
    ("empty", "", 401),
    ("wrong secret", sign(fixture("text.json"), "not-the-secret"), 403),
    ("other body", sign(b"{}"), 403),
    ("garbage", "sha256=zz", 403),
    ("no prefix, wrong", "0" * 64, 403),
]


@pytest.mark.parametrize("case,header,expected", SIGNATURES, ids=[s[0] for s in SIGNATURES])
async def test_bad_or_missing_signature_stores_nothing(db_url, tmp_path, case, header, expected):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        status_code, text = await post(rt, fixture("text.json"), signature=header or False)
        assert status_code == expected
        assert "Traceback" not in text
        assert await inbox(rt) == [] and rt.fake.sent == []
        assert await rows(rt, wa_contacts, "user_key") == []


@pytest.mark.parametrize("name", ["malformed.json", "not_a_delivery.json", "array"])
async def test_malformed_body_is_400_and_stores_nothing(db_url, tmp_path, name):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        raw = b"[1, 2]" if name == "array" else fixture(name)
        status_code, text = await post(rt, raw)
        assert status_code == 400 and "Traceback" not in text and "Error" not in text
        assert await inbox(rt) == [] and rt.fake.sent == []


VERIFY = [
    (
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        200,
        "1158201444",
    ),
    ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}, 403, None),
    (
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        403,
        None,
    ),
    ({"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}, 403, None),
    ({"hub.mode": "subscribe", "hub.challenge": "1"}, 403, None),
    ({}, 403, None),
]


@pytest.mark.parametrize("query,expected,body", VERIFY)
async def test_verification_handshake(db_url, tmp_path, query, expected, body):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        async with rt.http.get(rt.url, params=query) as r:
            assert r.status == expected
            if body is not None:
                assert await r.text() == body


async def test_statuses_are_recorded_against_the_outbox(db_url, tmp_path):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        await post(rt, fixture("text.json"))
        [notice] = rt.fake.messages_to(A)
        wamid = notice["wamid"]
        body = delivery(
            statuses=[
                status(wamid, "sent", A, ts=TS),
                status(wamid, "delivered", A, ts=TS),
                status(wamid, "read", A, ts=TS),
                status("wamid.UNKNOWN", "failed", A, ts=TS, error_code=131026),
            ]
        )
        assert (await post(rt, body))[0] == 200
        assert (await post(rt, body))[0] == 200  # redelivered: no second row
        O, S = outbound_messages.c, wa_statuses.c
        async with rt.db.tx(write=False) as c:
            joined = [
                tuple(r)
                for r in await c.execute(
                    sa.select(O.id, S.status)
                    .join(wa_statuses, S.wamid == O.external_id)
                    .order_by(S.id)
                )
            ]
            failed = (await c.execute(sa.select(S.error_code).where(S.status == "failed"))).all()
        assert [s for _, s in joined] == ["sent", "delivered", "read"]
        assert failed == [(131026,)]


async def test_wa_id_and_bsuid_are_linked_under_one_user_key(db_url, tmp_path):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        await post(rt, fixture("text.json"))  # phone number only
        await post(rt, fixture("bsuid.json"))  # the same person, now with a BSUID
        assert {r[1] for r in await inbox(rt)} == {K}
        assert await rows(rt, wa_contacts, "user_key", "bsuid", "wa_id", "address") == [
            (K, BSUID_1, A, BSUID_1)
        ]
        last = rt.fake.sent[-1]
        assert last["recipient"] == BSUID_1 and last["to"] == A
        # A BSUID-only message of the same BSUID still lands in the same conversation.
        m = text_message("x", "menu", ts=TS)
        del m["from"]
        m["from_user_id"] = BSUID_1
        await post(rt, delivery(m, contacts=[contact(None, bsuid=BSUID_1)]))
        assert {r[1] for r in await inbox(rt)} == {K}


async def test_other_kinds_get_a_polite_reply(db_url, tmp_path):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        await onboard(rt)
        for name in ("audio.json", "sticker.json", "unknown.json"):
            before = len(rt.fake.messages_to(A))
            await post(rt, fixture(name))
            replies = rt.fake.messages_to(A)[before:]
            assert replies and "teks" in body_text(replies[0]), [body_text(m) for m in replies]


async def test_image_is_downloaded_checked_and_stored_by_sha256(db_url, tmp_path):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        rt.fake.add_media(IMAGE_MEDIA_ID, JPEG)
        await post(rt, fixture("image.json"))
        [row] = await rows(rt, media, "media_id", "status", "sha256", "mime", "size", "path")
        assert row[:5] == (IMAGE_MEDIA_ID, "stored", JPEG_SHA, "image/jpeg", len(JPEG))
        path = tmp_path / "media" / f"{JPEG_SHA}.jpg"
        assert row[5] == str(path) and path.read_bytes() == JPEG
        assert rt.fake.media_requests == [IMAGE_MEDIA_ID] and rt.fake.downloads == [IMAGE_MEDIA_ID]
        await post(rt, fixture("image.json"))  # redelivery: not downloaded again
        assert rt.fake.downloads == [IMAGE_MEDIA_ID]


@pytest.mark.parametrize("case", ["too big", "gif", "not a jpeg", "sha mismatch"])
async def test_images_that_fail_the_checks_are_rejected(db_url, tmp_path, case):
    from tests.fakes.whatsapp_api import image_message

    data, mime, sha = JPEG, "image/jpeg", None
    if case == "too big":
        data = JPEG[:4] + b"\0" * (5 * 1024 * 1024 + 1)
    elif case == "gif":
        data, mime = b"GIF89a" + b"\0" * 100, "image/gif"
    elif case == "not a jpeg":
        data = b"<html>not an image</html>"
    elif case == "sha mismatch":
        sha = "0" * 64
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        rt.fake.add_media("77", data, mime)
        await post(rt, delivery(image_message(A, "77", sha, mime, ts=TS)))
        [(status_, error)] = await rows(rt, media, "status", "error")
        assert status_ == "rejected", error
        assert not (tmp_path / "media").exists() or not any((tmp_path / "media").iterdir())


async def test_paged_list_more_is_served_by_the_adapter(db_url, tmp_path):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        await post(rt, fixture("text.json"))
        # A core reply with 23 choices (no flow has one yet): queued like the service does.
        now = rt.service.clock()
        many = [[f"x:{i}", f"Pilihan nomor {i}"] for i in range(1, 24)]
        async with rt.db.tx() as c:
            [row_id] = (
                await c.execute(
                    sa.insert(outbound_messages)
                    .values(
                        channel="wa",
                        user_key=K,
                        address=A,
                        payload={
                            "text": "Pilih satu:",
                            "choices": many,
                            "request": None,
                            "locale": "id",
                        },
                        status="queued",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    .returning(outbound_messages.c.id)
                )
            ).first()
        rt.outbox.notify([row_id])
        await settle(rt)
        first = rt.fake.messages_to(A)[-1]
        assert [i for _, i in choices(first)] == [f"x:{i}" for i in range(1, 10)] + ["wa:more:1"]
        assert choices(first)[-1][0] == "Lainnya"
        assert first["interactive"]["action"]["button"] == "Pilih"

        n_inbox = len(await inbox(rt))
        more = delivery(list_reply(A, "wa:more:1", "Lainnya", wamid="wamid.MORE1", ts=TS))
        await post(rt, more)
        page2 = rt.fake.messages_to(A)[-1]
        assert [i for _, i in choices(page2)] == [f"x:{i}" for i in range(10, 19)] + ["wa:more:2"]
        assert body_text(page2) == "Pilihan lainnya (2/3):"
        await post(rt, more)  # redelivered: no second page 2
        assert rt.fake.messages_to(A)[-1] is page2
        await post(rt, delivery(list_reply(A, "wa:more:2", "Lainnya", wamid="wamid.MORE2", ts=TS)))
        page3 = rt.fake.messages_to(A)[-1]
        assert [i for _, i in choices(page3)] == [f"x:{i}" for i in range(19, 24)]
        # The taps were stored in the inbox (done), never handed to the core.
        I = inbound_events.c
        async with rt.db.tx(write=False) as c:
            more_rows = (
                await c.execute(
                    sa.select(I.external_id, I.status)
                    .where(I.external_id.in_(["wamid.MORE1", "wamid.MORE2"]))
                    .order_by(I.id)
                )
            ).all()
        assert [tuple(r) for r in more_rows] == [("wamid.MORE1", "done"), ("wamid.MORE2", "done")]
        assert len(await inbox(rt)) == n_inbox + 2


@pytest.mark.serial
async def test_webhook_answers_fast_under_load(db_url, tmp_path):
    """Median time to the 200 while earlier deliveries are still being processed and sent."""
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        times = []
        for i in range(120):
            raw = encode(delivery(text_message(f"62812{i:08d}", "halo", ts=now_ts(rt))))
            headers = {"X-Hub-Signature-256": sign(raw), "Content-Type": "application/json"}
            t0 = time.perf_counter()
            async with rt.http.post(rt.url, data=raw, headers=headers) as r:
                assert r.status == 200
            times.append(time.perf_counter() - t0)
        await settle(rt)
        assert len(rt.fake.sent) == 120
        assert statistics.median(times) < 0.05, statistics.median(times)
