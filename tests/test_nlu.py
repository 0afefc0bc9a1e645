"""The understanding layer (core/understanding.py, data/intents.toml): the labelled corpus,
normalisation, the traps, the lexicon's checks, and the engine using it in a chat."""

from __future__ import annotations

import time

import pytest

from core.reference import ConfigProblem
from core.understanding import CLEAR, CLOSE, NONE, Understander, default_understander, load_lexicon
from tests.chatkit import NIK_1, Chat, running
from tools.nlu import CORPUS, evaluate, read_corpus


@pytest.fixture(scope="module")
def u() -> Understander:
    return default_understander()


def test_corpus_is_large_and_covers_every_intent():
    rows = read_corpus(CORPUS)
    assert len(rows) >= 600
    labels = {e for _, e in rows}
    from core.understanding import INTENTS

    assert set(INTENTS) <= labels and "NONE" in labels


def test_corpus_accuracy_and_no_wrong_flow_on_negatives(u):
    ev = evaluate(u, read_corpus(CORPUS))
    mistakes = [(t, e, g.intent) for t, e, g in ev["results"] if (g.intent or "NONE") != e]
    assert ev["accuracy"] >= 0.95, mistakes
    assert ev["wrong_flow"] == [], ev["wrong_flow"]


def test_fast(u):
    rows = read_corpus(CORPUS)
    t0 = time.perf_counter()
    for i, (text, _) in enumerate(rows):
        u.understand(f"{text} {i}")
    per_message = (time.perf_counter() - t0) / len(rows)
    assert per_message < 0.001  # well under 1 ms on a shared CI machine


@pytest.mark.parametrize(
    "text,normalized",
    [
        ("bisaaa", "bisa"),
        ("Sy mo cek bansos kluarga!!", "saya mau cek bansos keluarga"),
        ("gmn", "gimana"),
        ("gk jd", "tidak jadi"),
        ("tdk dapet", "tidak dapat"),
        ("udh mksh", "sudah terima kasih"),
        ("yg dgn tlg", "yang dengan tolong"),
        ("brp", "berapa"),
        ("maaaaf", "maaf"),
        ("3271 0512 0378 0002", "3271051203780002"),
        ("3271.0512.0378.0002", "3271051203780002"),
    ],
)
def test_normalisation(u, text, normalized):
    assert u.normalize(text) == normalized


@pytest.mark.parametrize(
    "text,intent",
    [
        ("bantuan", "help"),
        ("bantuan sosial", "check"),
        ("dapat bantuan", "check"),
        ("bansos", "check"),
        ("batal", "cancel"),
        ("pembatalan pelatihan", "training"),
        ("batal pelatihan", "training"),
        ("halo mau cek bansos", "check"),  # a greeting gives way
        ("jam 8 pagi", None),  # no greeting
        ("pelatiahn", "training"),  # a swap of two letters
        ("kubee", "kube"),
        ("wis ora sido", "cancel"),
        ("teu jadi", "cancel"),
        ("Siti Aminah", None),
        ("Jl. Pajajaran No. 5 RT 03 RW 02", None),
    ],
)
def test_traps(u, text, intent):
    assert u.understand(text).intent == intent


def test_explainable_result(u):
    r = u.understand("mo cek bansos kluarga sy")
    assert r.kind == CLEAR and r.intent == "check" and r.score == 100
    assert r.candidates[0] == ("check", 100.0)
    assert r.normalized == "mau cek bansos keluarga saya"
    assert u.understand("qwerty").kind == NONE


def test_close_call(u):
    r = u.understand("cek status")  # the household's status or a report's
    assert r.kind in (CLEAR, CLOSE)
    r = u.understand("laporan bansos")
    assert r.kind == CLOSE and len(r.candidates) >= 2


def test_entities_anywhere(u):
    e = u.understand(f"nik sy {NIK_1[:4]} {NIK_1[4:8]} {NIK_1[8:12]} {NIK_1[12:]} mau cek").entities
    assert e["nik"] == NIK_1
    assert u.understand("laporan LPR-7KQ4-M9XD gmn").entities["ticket"] == "LPR-7KQ4-M9XD"
    assert u.understand("kode sy rt-7kq4-m9xd").entities["rt_code"] == "RT-7KQ4-M9XD"
    assert u.understand("kode kube AB3CD4").entities["kube_code"] == "AB3CD4"
    assert u.understand("kode PAB3CD4").entities["training_code"] == "PAB3CD4"
    assert u.understand("halo semua").entities == {}


def test_lexicon_problems_are_clear(tmp_path):
    bad = tmp_path / "intents.toml"
    bad.write_text(
        '[settings]\naccept = 300\n[intents.chek]\nid = ["cek"]\n[intents.check]\nxx = ["a"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigProblem) as e:
        load_lexicon(bad)
    msg = str(e.value)
    assert "settings.accept" in msg and "intents.chek: unknown intent" in msg
    assert "intents.check.xx: unknown language" in msg and "intents.usul has no phrases" in msg
    bad.write_text("not = [toml", encoding="utf-8")
    with pytest.raises(ConfigProblem, match="not valid TOML"):
        load_lexicon(bad)


def test_the_configured_lexicon_is_loaded_at_start(tmp_path):
    from config import Settings

    s = Settings(_env_file=None, jaring_intents=tmp_path / "missing.toml")
    with pytest.raises(ConfigProblem, match="missing"):
        load_lexicon(s.jaring_intents)


# --- in a chat -----------------------------------------------------------------------------


async def test_own_words_at_the_main_menu(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.send("mo cek bansos kluarga sy")
        assert "Ketik NIK" in chat.text and "Maaf" not in chat.text
        await chat.send("menu")
        await chat.send("punten")
        assert "Maaf" not in chat.text and "Menu utama" in chat.text
        assert chat.choices[0] == "m:check"
        await chat.send("makasih ya")
        assert "Maaf" not in chat.text and chat.choices == ["g:menu"]
        out = await chat.send("sy bingung")  # help, in other words
        assert all("Maaf" not in r["text"] for r in out) and len(out) == 2
        await chat.send("laporan bansos")  # a close call
        assert "Maksud Anda" in chat.text
        assert chat.choices[-1] == "n:none" and 3 <= len(chat.choices) <= 4
        first = chat.choices[0]
        await chat.tap(first)
        assert "Maksud Anda" not in chat.text
        await chat.send("menu")
        await chat.send(f"nik saya {NIK_1[:4]} {NIK_1[4:8]} {NIK_1[8:12]} {NIK_1[12:]}")
        assert chat.choices == ["k:yes", "k:edit"]  # the check, at the NIK's confirmation


async def test_cancel_synonyms_and_typed_labels_mid_flow(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        out = await chat.send("gk jd")
        assert "Dibatalkan" in out[0]["text"] and "Menu utama" in chat.text
        await chat.send("cek status bansoss")  # a typo in the label "Cek status bansos"
        assert "Ketik NIK" in chat.text
        await chat.send("udahan")
        assert "Menu utama" in chat.text
        await chat.send("kelompk KUBE")  # a button label with a typo
        assert "Maaf" not in chat.text and "mencocokkan data" in chat.text  # KUBE matches first


async def test_report_kind_straight_from_words(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.send("nama sy salah ketik di data")
        assert "Maaf" not in chat.text and "Menu utama" not in chat.text
        await chat.send("batal")
        await chat.send("sambungin ke admin")
        assert "Maaf" not in chat.text


async def test_mid_flow_nik_in_a_sentence_and_another_service(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        await chat.send("mau lapor data saya salah")  # not a NIK: another service
        assert "Maksud Anda" in chat.text and chat.choices == ["n:koreksi", "n:none"]
        await chat.tap("n:none")
        assert "Ketik NIK" in chat.text  # the step again
        await chat.send(f"ini nik saya {NIK_1} ya")
        assert chat.choices == ["k:yes", "k:edit"]


async def test_free_text_steps_do_not_store_another_request(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.send("usul")  # straight to the kind of report
        await chat.tap("r:other")
        assert "Ketik nama" in chat.text
        await chat.send("sambungin ke admin")
        assert "Pindah ke" in chat.text and chat.choices == ["n:contact", "n:none"]
        await chat.tap("n:none")
        assert "Ketik nama" in chat.text
        await chat.send("halo")
        assert "Ketik nama" in chat.text and "Maaf" not in chat.text
