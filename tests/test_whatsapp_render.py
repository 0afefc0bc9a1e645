"""Rendering the core's replies for WhatsApp: reply buttons, lists, paged lists, long bodies, the
location request; labels of every catalog within WhatsApp's limits; send errors mapped to the
outbox's typed errors."""

from __future__ import annotations

import httpx
import pytest
from pywa_async.errors import WhatsAppError

from core.i18n import LOCALES, texts
from core.model import Choice, Reply, SendFinal, SendRetry
from handlers.whatsapp import (
    BODY_MAX,
    BUTTON_TITLE_MAX,
    LIST_BUTTON_MAX,
    ROW_TITLE_MAX,
    TEXT_MAX,
    WORDS,
    render,
    send_error,
    split_pieces,
)
from tests.chatkit import KK_1, NIK_1, Chat, running
from tests.fakes.whatsapp_api import check_message, choices
from tools import i18n


def payload(text="Pilih:", n=0, *, locale="id", label="Pilihan {i}", **extra):
    p = Reply(text, [Choice(f"x:{i}", label.format(i=i)) for i in range(1, n + 1)]).to_payload(
        locale
    )
    return {**p, **extra}


def as_sent(typ, obj):
    return {"messaging_product": "whatsapp", "to": "6281", "type": typ, typ: obj}


def all_ok(messages):
    for typ, obj in messages:
        assert check_message(as_sent(typ, obj)) is None, (typ, obj)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_up_to_three_choices_are_reply_buttons(n):
    [(typ, obj)] = render(payload(n=n))
    assert typ == "interactive" and obj["type"] == "button"
    assert choices(as_sent(typ, obj)) == [(f"Pilihan {i}", f"x:{i}") for i in range(1, n + 1)]
    assert obj["body"]["text"] == "Pilih:"


@pytest.mark.parametrize("n", [4, 7, 10])
@pytest.mark.parametrize("locale,button", [("id", "Pilih"), ("en", "Choose")])
def test_four_to_ten_choices_are_a_list(n, locale, button):
    [(typ, obj)] = render(payload(n=n, locale=locale))
    assert obj["type"] == "list" and obj["action"]["button"] == button
    assert [i for _, i in choices(as_sent(typ, obj))] == [f"x:{i}" for i in range(1, n + 1)]
    all_ok([(typ, obj)])


@pytest.mark.parametrize("n", [11, 19, 20, 23, 40])
def test_more_than_ten_choices_are_a_paged_list(n):
    seen, page, bodies = [], 0, []
    while True:
        [(typ, obj)] = render(payload(n=n, wa_page=page))
        all_ok([(typ, obj)])
        rows = choices(as_sent(typ, obj))
        assert len(rows) <= 10
        bodies.append(obj["body"]["text"])
        if rows[-1][1] == f"wa:more:{page + 1}":
            assert rows[-1][0] == "Lainnya" and len(rows) == 10
            seen += [i for _, i in rows[:-1]]
            page += 1
            continue
        seen += [i for _, i in rows]
        break
    assert seen == [f"x:{i}" for i in range(1, n + 1)]  # every choice once, in order
    assert bodies[0] == "Pilih:"
    assert all(b.startswith("Pilihan lainnya (") for b in bodies[1:])


def test_paged_list_in_english_says_more():
    [(_, obj)] = render(payload(n=12, locale="en"))
    assert obj["action"]["sections"][0]["rows"][-1]["title"] == "More"


def test_a_payload_without_locale_is_indonesian():
    p = payload(n=5)
    del p["locale"]
    [(_, obj)] = render(p)
    assert obj["action"]["button"] == "Pilih"


def test_labels_are_never_cut():
    long21 = "Label dua puluh satu!"  # 21 characters: too long for a button, fine for a row
    assert len(long21) == 21
    [(_, obj)] = render(
        payload(n=2, label=long21 + "{i}"[:0]) | {"choices": [["a", long21], ["b", "Pendek"]]}
    )
    assert obj["type"] == "list" and obj["action"]["sections"][0]["rows"][0]["title"] == long21
    too_long = "Label yang panjangnya lebih dari 24"
    msgs = render(
        {"text": "Pilih:", "choices": [["a", too_long], ["b", "Pendek"]], "request": None}
    )
    assert [t for t, _ in msgs] == ["text"]
    assert f"1. {too_long}" in msgs[0][1]["body"] and "2. Pendek" in msgs[0][1]["body"]


def _words(s):
    return s.split()


@pytest.mark.parametrize("kind", ["paragraphs", "lines", "one long paragraph"])
def test_long_bodies_split_between_words_and_controls_stay_last(kind):
    sentence = "Keluarga Anda termasuk desil 2 dari 10 dan dapat mengikuti program KUBE. "
    if kind == "paragraphs":
        text = "\n\n".join(sentence * 4 for _ in range(8))
    elif kind == "lines":
        text = "\n".join("• " + sentence * 2 for _ in range(30))
    else:
        text = sentence * 60
    assert len(text) > 2 * BODY_MAX
    msgs = render({"text": text, "choices": [["g:menu", "Menu utama"]], "request": None})
    all_ok(msgs)
    assert [t for t, _ in msgs][-1] == "interactive" and all(t == "text" for t, _ in msgs[:-1])
    got = " ".join(o["body"] if t == "text" else o["body"]["text"] for t, o in msgs)
    assert _words(got) == _words(text)  # nothing lost, nothing cut inside a word
    assert len(msgs[-1][1]["body"]["text"]) <= BODY_MAX


def test_plain_text_over_4096_is_split():
    text = "\n\n".join(f"Paragraf {i}. " + "kata " * 150 for i in range(12))
    msgs = render({"text": text, "choices": [], "request": None})
    assert len(msgs) > 1 and all(t == "text" and len(o["body"]) <= TEXT_MAX for t, o in msgs)
    assert _words(" ".join(o["body"] for _, o in msgs)) == _words(text)


def test_split_text_keeps_short_text_whole():
    assert split_pieces("Halo", 1024) == ["Halo"]
    assert all(len(p) <= 10 for p in split_pieces("a" * 25, 10))  # no spaces at all: the only cut


def test_location_request_lists_choices_as_numbers():
    [(typ, obj)] = render(
        {
            "text": "Kirim lokasi rumah Anda.",
            "choices": [["g:cancel", "Batal"]],
            "request": "location",
            "locale": "id",
        }
    )
    assert obj["type"] == "location_request_message" and obj["action"] == {"name": "send_location"}
    assert obj["body"]["text"].endswith("1. Batal")


def test_empty_text_sends_nothing_and_a_bare_choice_gets_a_body():
    assert render({"text": "", "choices": [], "request": None}) == []
    [(_, obj)] = render({"text": "", "choices": [["g:menu", "Menu utama"]], "request": None})
    assert obj["body"]["text"] == "Pilih"


# ------------------------------------------------------------------ labels in every locale


@pytest.mark.parametrize("locale", LOCALES)
def test_every_choice_label_fits_a_button_and_a_row(locale):
    t = texts(locale)
    labels = {msgid: t._(msgid) for msgid in i18n.labels()}
    assert labels, "no labels found"
    assert {m: s for m, s in labels.items() if not 0 < len(s) <= BUTTON_TITLE_MAX} == {}
    assert {m: s for m, s in labels.items() if not 0 < len(s) <= ROW_TITLE_MAX} == {}


@pytest.mark.parametrize("locale", LOCALES)
def test_the_adapters_own_words_fit(locale):
    w = WORDS[locale]
    assert 0 < len(w["choose"]) <= LIST_BUTTON_MAX
    assert 0 < len(w["more"]) <= ROW_TITLE_MAX
    assert 0 < len(w["more_body"].format(page=99, pages=99)) <= BODY_MAX


async def test_every_reply_of_a_whole_conversation_renders_within_limits(db_url):
    """The real core, start to finish, in both languages: Meta would accept every message."""
    async with running(db_url) as rt:
        for locale in ("id", "en"):
            chat = Chat(rt, user=f"render-{locale}")
            await chat.onboard(locale)
            await chat.send("1")
            await chat.send(NIK_1)
            await chat.send("1")
            await chat.send(KK_1)
            await chat.send("stiker?")
            await chat.send("masih bingung")
            await chat.send("/privasi")
            await chat.send("bantuan")
            assert all(p.get("locale") in LOCALES for p in chat.replies)
            assert chat.last["locale"] == locale  # the conversation's language reaches the adapter
            for p in chat.replies:
                msgs = render(p)
                all_ok(msgs)
                sent_choices = [c for t, o in msgs for c in choices(as_sent(t, o))]
                if p["choices"]:
                    assert [i for _, i in sent_choices] == [c[0] for c in p["choices"]]
                    assert [lbl for lbl, _ in sent_choices] == [c[1] for c in p["choices"]]


# ------------------------------------------------------------------ send errors


def _err(code, status=400, **extra):
    return WhatsAppError.from_dict(
        {"code": code, "message": "m", **extra}, response=httpx.Response(status)
    )


ERRORS = [
    ("rate limit 130429", _err(130429), SendRetry, 1.0),
    ("pair rate limit 131056", _err(131056), SendRetry, None),
    ("server error 500", _err(131000, 500), SendRetry, None),
    ("bad gateway 502", _err(502, 502), SendRetry, None),
    ("timeout", httpx.ReadTimeout("slow"), SendRetry, None),
    ("connection refused", httpx.ConnectError("down"), SendRetry, None),
    ("invalid parameter 131009", _err(131009), SendFinal, None),
    ("undeliverable 131026", _err(131026), SendFinal, None),
    ("bad token 190", _err(190, 401), SendFinal, None),
]


@pytest.mark.parametrize("case,exc,kind,retry_after", ERRORS, ids=[e[0] for e in ERRORS])
def test_send_errors_map_to_the_outbox_types(case, exc, kind, retry_after):
    err = send_error(exc)
    assert type(err) is kind
    if kind is SendRetry:
        assert err.retry_after == retry_after
    if kind is SendFinal:
        assert "m" in err.reason and str(exc.code) in err.reason  # the reason is kept


def test_http_errors_without_a_graph_body_map_by_status():
    from handlers.whatsapp import GraphHTTPError

    assert type(send_error(GraphHTTPError(502))) is SendRetry
    assert type(send_error(GraphHTTPError(429))) is SendRetry
    assert type(send_error(GraphHTTPError(404))) is SendFinal
    import aiohttp

    assert type(send_error(aiohttp.ClientConnectionError("down"))) is SendRetry
    assert type(send_error(TimeoutError())) is SendRetry
