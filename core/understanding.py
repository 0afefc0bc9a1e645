"""The understanding layer: what a resident's own words ask for.

`Understander.understand(text)` normalises informal writing (case, punctuation, repeated
letters, slang and abbreviations from the lexicon, small typos corrected with rapidfuzz
against the lexicon's words), spots entities anywhere in the message (a NIK, a report's
ticket code, an RT invite code, a KUBE join code, a training registration code), and
scores the lexicon's phrases with rapidfuzz's token-set ratio. The answer explains itself:
the intent (or None), its score, the ranked candidates and the normalised text.

The lexicon is `data/intents.toml` (`load_lexicon`; a bad file raises ConfigProblem at
start-up). Channel-neutral and flow-neutral: intents are names; conversations/ maps them to
flows. See docs/understanding.md.
"""

from __future__ import annotations

import logging
import os
import re
import time
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from core.reference import ConfigProblem
from domain.kube import CODE_ALPHABET, CODE_LENGTH
from domain.nik import IdProblem, check_nik
from domain.reports import ALPHABET as TICKET_ALPHABET
from domain.reports import normalize_code

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "intents.toml"
LANGUAGES = ("id", "en", "su", "jv")
INTENTS = (
    "check",
    "usul",
    "sanggah",
    "koreksi",
    "graduasi",
    "myreports",
    "kube",
    "uep",
    "training",
    "contact",
    "rt",
    "privacy",
    "language",
    "menu",
    "cancel",
    "help",
    "greeting",
    "thanks",
)
CLEAR, CLOSE, NONE = "clear", "close", "none"

_NON_WORD = re.compile(r"[^\w]+")
_REPEAT3 = re.compile(r"([^\W\d_])\1{2,}")
# Digits written in groups ("3271 0512 0378 0002", "3271.0512.0378.0002") are joined.
_DIGIT_GROUPS = re.compile(r"(?<![\w])\d[\d .\-]{10,40}\d(?![\w])")
_TICKET = re.compile(
    rf"\bLPR[\s\-_.]?[{TICKET_ALPHABET}]{{4}}[\s\-_.]?[{TICKET_ALPHABET}]{{4}}\b", re.I
)
_RT_CODE = re.compile(
    rf"\bRT[\s\-]?([{TICKET_ALPHABET}]{{4}})[\s\-]?([{TICKET_ALPHABET}]{{4}})\b", re.I
)
# A staff member's one-time link code (services/alerts.py): STF-XXXX-XXXX.
_STAFF_CODE = re.compile(
    rf"\bSTF[\s\-_.]{{0,3}}([{TICKET_ALPHABET}]{{4}})[\s\-_.]{{0,3}}([{TICKET_ALPHABET}]{{4}})\b",
    re.I,
)
_TRAINING_CODE = re.compile(rf"\bP[{CODE_ALPHABET}]{{6}}\b", re.I)
_KUBE_CODE = re.compile(rf"\b[{CODE_ALPHABET}]{{{CODE_LENGTH}}}\b", re.I)


@dataclass(frozen=True, slots=True)
class Understanding:
    """What a message asks for. `intent` is set only for a clear winner; `candidates` are the
    best intents (score >= the lexicon's `close`), best first; `kind` says which case."""

    intent: str | None
    score: float
    candidates: list[tuple[str, float]]
    entities: dict[str, str]
    normalized: str
    # True when the whole message is (nearly) the matched phrase, not a sentence holding it:
    # only such messages act as global words mid-flow ("gk jd" cancels, "saya tidak jadi
    # datang karena ..." typed as a story does not).
    whole: bool = False

    @property
    def kind(self) -> str:
        if self.intent is not None:
            return CLEAR
        return CLOSE if self.candidates else NONE


@dataclass(frozen=True)
class Lexicon:
    accept: float
    close: float
    margin: float
    weak: frozenset[str]
    whole_only: frozenset[str]
    slang: dict[str, str]
    stopwords: frozenset[str]
    # ordinary words never "corrected" into a lexicon word ("hujan" is not "human")
    words: frozenset[str]
    # intent -> language -> phrases, as written
    phrases: dict[str, dict[str, list[str]]]
    path: Path | None = None


@dataclass(slots=True)
class _Phrase:
    intent: str
    text: str  # normalised, stopwords removed
    tokens: frozenset[str]


@dataclass
class Understander:
    """The lexicon, precomputed for matching: build once at start-up, call per message."""

    lexicon: Lexicon
    _phrases: list[_Phrase] = field(default_factory=list)
    _index: dict[str, list[int]] = field(default_factory=dict)
    _vocab: list[str] = field(default_factory=list)
    _known: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for intent, by_lang in self.lexicon.phrases.items():
            for phrases in by_lang.values():
                for raw in phrases:
                    text = " ".join(self._content(self._tokens(raw)))
                    if not text or (intent, text) in seen:
                        continue
                    seen.add((intent, text))
                    self._phrases.append(_Phrase(intent, text, frozenset(text.split())))
        for i, p in enumerate(self._phrases):
            for tok in p.tokens:
                self._index.setdefault(tok, []).append(i)
        known = set(self._index) | set(self.lexicon.stopwords) | set(self.lexicon.words)
        for v in self.lexicon.slang.values():
            known.update(v.split())
        self._known = frozenset(known)
        self._vocab = sorted(t for t in self._index if len(t) >= 3)
        self._correct = lru_cache(maxsize=4096)(self._correct_uncached)

    # --- normalisation ---------------------------------------------------------------------
    def _tokens(self, text: str) -> list[str]:
        """Lowercase words with repeated letters collapsed and slang expanded."""
        s = unicodedata.normalize("NFKC", text).lower()
        s = _NON_WORD.sub(" ", s).replace("_", " ")
        out: list[str] = []
        slang = self.lexicon.slang
        for tok in s.split():
            if _REPEAT3.search(tok):
                two = _REPEAT3.sub(r"\1\1", tok)
                one = _REPEAT3.sub(r"\1", tok)
                tok = two if (two in slang or two in self._known) and one not in slang else one
            exp = slang.get(tok)
            if exp is None and len(tok) > 3 and tok[-1] == tok[-2]:
                exp = slang.get(tok[:-1])  # "makasihh", "gkk"
                if exp is None and tok[:-1] in self._known:
                    exp = tok[:-1]
            for word in (exp or tok).split():
                if not out or out[-1] != word:  # "hatur nuhun" -> "terima terima kasih"
                    out.append(word)
        return out

    def _content(self, tokens: list[str]) -> list[str]:
        stop = self.lexicon.stopwords
        return [t for t in tokens if t not in stop]

    def _correct_uncached(self, tok: str) -> str:
        """A word the lexicon does not know, mapped to one it knows when they differ by a
        typo (same first letter; one edit for 5-8 letters, two from 9, a swap of two letters
        being one: rapidfuzz's OSA distance); else the word unchanged."""
        if tok in self._known or len(tok) < 5 or tok.isdigit():
            return tok
        edits = 1 if len(tok) < 9 else 2
        got = process.extractOne(
            tok,
            [v for v in self._vocab if v[0] == tok[0] and abs(len(v) - len(tok)) <= edits],
            scorer=OSA.distance,
            score_cutoff=edits,
        )
        return got[0] if got else tok

    def normalize(self, text: str) -> str:
        """The message as the matcher sees it, stopwords kept (for display and logs)."""
        return " ".join(self._correct(t) for t in self._tokens(_join_digits(text)))

    # --- the entry point -------------------------------------------------------------------
    def understand(self, text: str) -> Understanding:
        raw = text or ""
        joined = _join_digits(raw)
        entities = spot_entities(joined)
        tokens = [self._correct(t) for t in self._tokens(joined)]
        normalized = " ".join(tokens)
        content = [t for t in self._content(tokens) if not t.isdigit()]
        if not content:
            return Understanding(None, 0.0, [], entities, normalized)
        query = " ".join(content)
        cand: set[int] = set()
        for tok in content:
            cand.update(self._index.get(tok, ()))
        lex = self.lexicon
        best: dict[str, tuple[float, int, _Phrase]] = {}
        have_toks = set(content)
        for i in cand:
            p = self._phrases[i]
            score = _score(query, have_toks, p)
            if score < lex.close:
                continue
            key = (score, len(p.tokens), p)
            have = best.get(p.intent)
            if have is None or key[:2] > have[:2]:
                best[p.intent] = key
        if not best:
            return Understanding(None, 0.0, [], entities, normalized)
        strong = {k: v for k, v in best.items() if k not in lex.weak and v[0] >= lex.accept}
        if strong:  # "halo, mau cek bansos": the greeting gives way
            best = {k: v for k, v in best.items() if k not in lex.weak}
        ranked = sorted(best.items(), key=lambda kv: (kv[1][0], kv[1][1]), reverse=True)
        top_intent, (top_score, top_len, top_phrase) = ranked[0]
        candidates = [(k, float(v[0])) for k, v in ranked[:3]]
        whole = fuzz.ratio(query, top_phrase.text) >= 90
        opens = content[: len(top_phrase.tokens)] == top_phrase.text.split()
        if top_intent in lex.whole_only and not (whole or opens):
            return Understanding(None, float(top_score), candidates, entities, normalized)
        rivals = [
            (k, v)
            for k, v in ranked[1:]
            if v[0] >= top_score - lex.margin
            and not _dominated(v, (top_score, top_len, top_phrase))
        ]
        if top_score >= lex.accept and not rivals:
            return Understanding(
                top_intent, float(top_score), candidates, entities, normalized, whole
            )
        return Understanding(None, float(top_score), candidates, entities, normalized, whole)


def _score(query: str, have: set[str], p: _Phrase) -> float:
    """How well the message holds the phrase: 100 when every word of the phrase is in it
    (words already typo-corrected), else the larger of the share of the phrase's letters
    found and rapidfuzz's token-sort ratio of the two (which punishes extra or missing words,
    so "bantuan" alone does not match "bantuan modal usaha")."""
    missing = p.tokens - have
    if not missing:
        return 100.0
    total = sum(len(t) for t in p.tokens)
    found = total - sum(len(t) for t in missing)
    return max(100.0 * found / total * 0.9, fuzz.token_sort_ratio(query, p.text))


def _dominated(rival: tuple[float, int, _Phrase], top: tuple[float, int, _Phrase]) -> bool:
    """A rival explains less of the message than the winner: its phrase's words are part of
    the winner's phrase ("bantuan" inside "bantuan sosial"), or it is shorter and scores
    less."""
    r_score, r_len, r_phrase = rival
    t_score, t_len, t_phrase = top
    if r_phrase.tokens < t_phrase.tokens:
        return True
    return t_len > r_len and t_score >= r_score and t_score == 100


def _join_digits(text: str) -> str:
    def join(m: re.Match[str]) -> str:
        digits = re.sub(r"[ .\-]", "", m.group(0))
        return f" {digits} " if len(digits) == 16 else m.group(0)

    return _DIGIT_GROUPS.sub(join, text) if any(c.isdigit() for c in text) else text


def spot_entities(text: str) -> dict[str, str]:
    """A NIK (16 digits, a valid province), a ticket code, an RT invite code, a staff link
    code, a training registration code, a KUBE join code, found anywhere in the text (digits in groups joined
    first by the caller)."""
    out: dict[str, str] = {}
    if not text:
        return out
    for m in re.finditer(r"(?<!\d)\d{16}(?!\d)", text):
        if not isinstance(check_nik(m.group(0)), IdProblem):
            out["nik"] = m.group(0)
            break
        out.setdefault("number16", m.group(0))
    t = _TICKET.search(text)
    if t and (code := normalize_code(t.group(0))):
        out["ticket"] = code
    r = _RT_CODE.search(text)
    if r and "ticket" not in out:
        out["rt_code"] = f"RT-{r.group(1).upper()}-{r.group(2).upper()}"
    s = _STAFF_CODE.search(text)
    if s:
        out["staff_code"] = f"STF-{s.group(1).upper()}-{s.group(2).upper()}"
    for m in _TRAINING_CODE.finditer(text):
        code = m.group(0)
        if code.isupper() or any(c.isdigit() for c in code):
            out["training_code"] = code.upper()
            break
    for m in _KUBE_CODE.finditer(text):
        code = m.group(0)
        # a word of six letters is not a code: codes with no digit must be typed in capitals
        if any(c.isdigit() for c in code) and any(c.isalpha() for c in code):
            out.setdefault("kube_code", code.upper())
            break
        if code.isupper() and code.isalpha() and len(text.split()) <= 3:
            out.setdefault("kube_code", code)
            break
    return out


# --- loading -------------------------------------------------------------------------------


def load_lexicon(path: Path | None = None) -> Lexicon:
    """The lexicon from its TOML file; ConfigProblem lists every mistake found."""
    path = path or DEFAULT_PATH
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigProblem(f"{path}: the intents lexicon is missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigProblem(f"{path}: not valid TOML: {e}") from None
    problems: list[str] = []

    def bad(msg: str) -> None:
        problems.append(f"{path}: {msg}")

    settings = raw.get("settings", {})
    nums: dict[str, float] = {}
    for key, default in (("accept", 88.0), ("close", 72.0), ("margin", 6.0)):
        v = settings.get(key, default)
        if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= 100:
            bad(f"settings.{key} must be a number from 0 to 100")
            v = default
        nums[key] = float(v)
    if nums["close"] > nums["accept"]:
        bad("settings.close must not be above settings.accept")
    weak = settings.get("weak", [])
    if not isinstance(weak, list) or any(w not in INTENTS for w in weak):
        bad(f"settings.weak must list intents among {', '.join(INTENTS)}")
        weak = []
    slang = raw.get("slang", {})
    if not isinstance(slang, dict) or any(
        not isinstance(k, str) or not isinstance(v, str) or not v.strip() or " " in k.strip()
        for k, v in slang.items()
    ):
        bad('[slang] must map single words to words: sy = "saya"')
        slang = {}
    whole_only = settings.get("whole_only", [])
    if not isinstance(whole_only, list) or any(w not in INTENTS for w in whole_only):
        bad(f"settings.whole_only must list intents among {', '.join(INTENTS)}")
        whole_only = []
    stop = raw.get("stopwords", {}).get("words", [])
    if not isinstance(stop, list) or any(not isinstance(w, str) for w in stop):
        bad("[stopwords] words must be a list of words")
        stop = []
    words = raw.get("words", {}).get("known", [])
    if not isinstance(words, list) or any(not isinstance(w, str) for w in words):
        bad("[words] known must be a list of words")
        words = []
    intents = raw.get("intents", {})
    phrases: dict[str, dict[str, list[str]]] = {}
    if not isinstance(intents, dict):
        bad("[intents.<name>] tables are missing")
        intents = {}
    for name, table in intents.items():
        if name not in INTENTS:
            bad(f"intents.{name}: unknown intent (known: {', '.join(INTENTS)})")
            continue
        if not isinstance(table, dict):
            bad(f"intents.{name} must be a table of languages")
            continue
        phrases[name] = {}
        for lang, items in table.items():
            if lang not in LANGUAGES:
                bad(f"intents.{name}.{lang}: unknown language (known: {', '.join(LANGUAGES)})")
                continue
            if not isinstance(items, list) or any(
                not isinstance(x, str) or not x.strip() for x in items
            ):
                bad(f"intents.{name}.{lang} must be a list of non-empty phrases")
                continue
            phrases[name][lang] = list(items)
    for name in INTENTS:
        if not any(phrases.get(name, {}).values()):
            bad(f"intents.{name} has no phrases")
    lex = Lexicon(
        accept=nums["accept"],
        close=nums["close"],
        margin=nums["margin"],
        weak=frozenset(weak),
        whole_only=frozenset(whole_only),
        slang={k.strip().lower(): v.strip().lower() for k, v in slang.items()},
        stopwords=frozenset(w.strip().lower() for w in stop),
        words=frozenset(w.strip().lower() for w in words),
        phrases=phrases,
        path=Path(path),
    )
    if not problems:
        u = Understander(lex)
        for name, by_lang in phrases.items():
            for lang, items in by_lang.items():
                for x in items:
                    if not u._content(u._tokens(x)):
                        bad(f'intents.{name}.{lang}: "{x}" has only stopwords')
    if problems:
        raise ConfigProblem("\n".join(problems))
    return lex


_DEFAULT: Understander | None = None


def default_understander() -> Understander:
    """The lexicon at data/intents.toml, loaded once (tests and tools; the service loads the
    configured file at start-up and hands it to the engine)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Understander(load_lexicon(DEFAULT_PATH))
    return _DEFAULT


log = logging.getLogger("jaring.understanding")


class LiveLexicon:
    """The running service's understander, re-read when its lexicon file changes.

    `current()` is what the engine asks on every message: at most once every `every` seconds it
    compares the file's modification time (one stat), and when it changed it loads the file
    again. A file with mistakes keeps the lexicon in use and logs one warning (per change of the
    file). `reload()` forces a load now (the dashboard's "Muat ulang kamus"). `bot.py nlu reload`
    cannot reach a running process: touching or saving the file is the reload.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.path = Path(path or DEFAULT_PATH)
        self.every = every
        self._clock = clock
        self._seen = self._stamp()
        # A mistake at start-up stops the service (ConfigProblem), as before.
        self.understander = Understander(load_lexicon(self.path))
        self._next = clock() + every
        self.loaded_at = time.time()
        self.problem: str | None = None  # the last failed reload's mistakes

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> Understander:
        now = self._clock()
        if now >= self._next:
            self._next = now + self.every
            stamp = self._stamp()
            if stamp is not None and stamp != self._seen:
                self._seen = stamp
                self._load()
        return self.understander

    def reload(self) -> str | None:
        """Load the file now. None when it loaded, else the mistakes (the old lexicon stays)."""
        self._seen = self._stamp()
        self._next = self._clock() + self.every
        return self._load()

    def _load(self) -> str | None:
        try:
            lex = load_lexicon(self.path)
        except ConfigProblem as e:
            self.problem = str(e)
            log.warning(
                "the lexicon has mistakes; the one loaded before stays in use:\n%s", self.problem
            )
            return self.problem
        self.understander = Understander(lex)
        self.loaded_at = time.time()
        self.problem = None
        log.info("the lexicon %s was loaded again", self.path)
        return None


def describe(u: Understanding) -> dict[str, Any]:
    """The result as plain data (logs, `make nlu`)."""
    return {
        "intent": u.intent,
        "score": u.score,
        "candidates": u.candidates,
        "entities": u.entities,
        "normalized": u.normalized,
        "whole": u.whole,
    }
