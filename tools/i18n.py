"""`make i18n`: extract messages, update the catalogs of every locale, compile them.

English is the source language: the `en` catalog is filled from the message ids (and may then be
edited, e.g. to shorten a label); `id`, `su` (Sundanese) and `jv` (Javanese) are translated by
hand (a new message stays empty there, and reported, until someone translates it; see
docs/languages.md). Run `python -m tools.i18n --check`
to fail when the catalogs are not up to date (the test suite does the same in-process).
"""

from __future__ import annotations

import argparse
import copy
import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from core.i18n import LOCALES as I18N_LOCALES

ROOT = Path(__file__).resolve().parent.parent
LOCALES_DIR = ROOT / "locales"
SOURCE_DIRS = ("core", "conversations", "services", "handlers", "web")
KEYWORDS = {"_": None, "N_": None, "L_": None, "ngettext": (1, 2)}
LOCALES = I18N_LOCALES
DOMAIN = "messages"
# Languages without grammatical number (Babel's data would give them two forms).
ONE_FORM = {"su", "jv"}


def extract(keywords=None) -> Catalog:
    cat = Catalog(project="jaring", version="1", charset="utf-8", fuzzy=False)
    for d in SOURCE_DIRS:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / d,
            method_map=[("**.py", "python")],
            keywords=keywords or KEYWORDS,
            comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True,
        ):
            cat.add(
                message,
                None,
                [(f"{d}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return cat


def labels() -> set[str]:
    """Message ids marked with L_ (choice labels: at most 20 characters in every locale)."""
    return {m.id for m in extract({"L_": None}) if m.id}


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_bytes(cat: Catalog) -> bytes:
    buf = BytesIO()
    write_mo(buf, cat, use_fuzzy=False)
    return buf.getvalue()


def po_bytes(cat: Catalog) -> bytes:
    buf = BytesIO()
    write_po(
        buf,
        cat,
        width=100,
        omit_header=False,
        sort_output=True,
        include_lineno=False,
        ignore_obsolete=True,
    )
    return buf.getvalue()


def updated(locale: str, template: Catalog) -> Catalog:
    path = po_path(locale)
    if path.exists():
        with path.open("rb") as f:
            cat = read_po(f, locale=locale)
    else:
        cat = Catalog(locale=locale, project="jaring", version="1", charset="utf-8")
        if locale in ONE_FORM:
            cat._num_plurals, cat._plural_expr = 1, "0"
    # update() may put the template's own Message objects into the catalog: filling the en
    # catalog must not fill the template that su and jv are updated from next.
    cat.update(copy.deepcopy(template), no_fuzzy_matching=True)
    cat.fuzzy = False
    cat.revision_date = cat.creation_date = template.creation_date.replace(
        year=2026, month=1, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    if locale == "en":
        for m in cat:
            if m.id and not m.string:
                m.string = m.id
    return cat


def compile_only() -> int:
    """Each locale's messages.mo from its messages.po, byte for byte what `make i18n` writes
    (pybabel compile would refuse the catalogs: it takes "10% of" for a %-format)."""
    for loc in LOCALES:
        with po_path(loc).open("rb") as f:
            cat = read_po(f, locale=loc)
        po_path(loc).with_suffix(".mo").write_bytes(mo_bytes(cat))
        print(f"{loc}: {po_path(loc).with_suffix('.mo').relative_to(ROOT)}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="fail if anything would change")
    ap.add_argument(
        "--compile-only",
        action="store_true",
        help="only write each locale's .mo from its .po (the Docker image: deploy/Dockerfile)",
    )
    args = ap.parse_args(argv)
    if args.compile_only:
        return compile_only()
    template = extract()
    template.creation_date = template.creation_date.replace(
        year=2026, month=1, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    changed = []
    pot = LOCALES_DIR / f"{DOMAIN}.pot"
    outputs = {pot: po_bytes(template)}
    missing = {}
    for loc in LOCALES:
        cat = updated(loc, template)
        outputs[po_path(loc)] = po_bytes(cat)
        outputs[po_path(loc).with_suffix(".mo")] = mo_bytes(cat)
        missing[loc] = [m.id for m in cat if m.id and (not m.string or m.fuzzy)]
    for path, data in outputs.items():
        if not path.exists() or path.read_bytes() != data:
            changed.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
    for loc, ids in missing.items():
        for i in ids:
            print(f"{loc}: untranslated: {i[:70]!r}", file=sys.stderr)
    if args.check and changed:
        print(
            "catalogs out of date: " + ", ".join(str(p.relative_to(ROOT)) for p in changed),
            file=sys.stderr,
        )
        return 1
    print(
        f"{len(template)} messages; "
        + "; ".join(f"{loc}: {len(ids)} untranslated" for loc, ids in missing.items())
    )
    return 1 if any(missing.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
