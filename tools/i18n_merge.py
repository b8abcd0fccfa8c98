#!/usr/bin/env python3
"""Merge freshly exported .pot templates into the translations of the addons.

For every addon (default: each ``crm_strategic_kpi*`` directory of the
repository that has ``i18n/<addon>.pot``) and every language (default: ``de``)
this rewrites ``i18n/<lang>.po`` from ``i18n/<addon>.pot``:

* entries are taken from the .pot, in its order, with its ``#.`` and ``#:``
  comments (occurrences) and flags;
* the existing translation of an entry (same msgid and msgctxt) is kept,
  and so is a ``fuzzy`` flag set by a translator;
* entries new in the .pot are added untranslated;
* entries no longer in the .pot are dropped (not kept as ``#~`` obsolete);
* the header of the existing .po is kept (Language, Plural-Forms, ...);
  POT-Creation-Date is taken from the .pot.

Then it lists, per file, the untranslated and fuzzy entries and the entries
whose placeholders (``%(name)s``, ``%s``, ``%%``, ``{{ ... }}``, QWeb
``t-...="..."`` attributes) differ between msgid and msgstr.

Usage::

    python3 tools/i18n_merge.py                       # all addons, German
    python3 tools/i18n_merge.py crm_strategic_kpi_survey --lang de --lang fr
    python3 tools/i18n_merge.py --dry-run             # report only, write nothing
    python3 tools/i18n_merge.py --check               # exit 1 if anything is left to do

Needs ``polib`` (``pip install polib``; Odoo depends on it already).
"""

import argparse
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
ADDON_GLOB = "crm_strategic_kpi*"

LANG_HEADERS = {
    "de": {"Language-Team": "German", "Plural-Forms": "nplurals=2; plural=(n != 1);"},
    "fr": {"Language-Team": "French", "Plural-Forms": "nplurals=2; plural=(n > 1);"},
    "nl": {"Language-Team": "Dutch", "Plural-Forms": "nplurals=2; plural=(n != 1);"},
}

PLACEHOLDER_RES = (
    re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdfr]"),  # %(name)s
    re.compile(r"%[sdfr]"),  # %s
    re.compile(r"%%"),  # literal percent in a formatted string
    re.compile(r"\{\{.*?\}\}", re.S),  # {{ object.x }}
    re.compile(r"""\bt-[\w.-]+=(?:"[^"]*"|'[^']*')"""),  # t-out="...", t-att-href=...
)


def placeholders(text):
    """Every placeholder of ``text``, sorted, with repetitions."""
    found = []
    for regex in PLACEHOLDER_RES:
        found.extend(regex.findall(text))
    return sorted(found)


def key(entry):
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def default_addons():
    return sorted(
        path.name
        for path in ROOT.glob(ADDON_GLOB)
        if (path / "i18n" / f"{path.name}.pot").is_file()
    )


def merge(pot, old, lang):
    """A new POFile: the entries of ``pot`` with the translations of ``old``."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M+0000")
    po = polib.POFile(wrapwidth=old.wrapwidth if old is not None else 78)
    po.header = old.header if old is not None and old.header else pot.header
    po.metadata = dict(pot.metadata)
    if old is not None:
        po.metadata.update(old.metadata)
    po.metadata.update(
        {
            "POT-Creation-Date": pot.metadata.get("POT-Creation-Date", now),
            "Language": lang,
            "Content-Type": "text/plain; charset=UTF-8",
        }
    )
    for name, value in LANG_HEADERS.get(lang, {}).items():
        if not po.metadata.get(name):
            po.metadata[name] = value
    po.metadata.setdefault("PO-Revision-Date", now)

    previous = {}
    if old is not None:
        previous = {key(e): e for e in old if not e.obsolete}
    added = kept = 0
    for ref in pot:
        if ref.obsolete:
            continue
        entry = polib.POEntry(
            msgid=ref.msgid,
            msgctxt=ref.msgctxt,
            msgid_plural=ref.msgid_plural,
            comment=ref.comment,
            occurrences=list(ref.occurrences),
            flags=list(ref.flags),
        )
        if ref.msgid_plural:
            entry.msgstr_plural = {0: "", 1: ""}
        old_entry = previous.pop(key(ref), None)
        if old_entry is not None:
            kept += 1
            entry.msgstr = old_entry.msgstr
            if ref.msgid_plural:
                old_plural = dict(old_entry.msgstr_plural)
                entry.msgstr_plural = old_plural or entry.msgstr_plural
            entry.tcomment = old_entry.tcomment
            if "fuzzy" in old_entry.flags and "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
        else:
            added += 1
        po.append(entry)
    return po, {"kept": kept, "added": added, "dropped": len(previous)}


def problems(po):
    """(untranslated, fuzzy, placeholder mismatches) of ``po``."""
    untranslated, fuzzy, mismatched = [], [], []
    for entry in po:
        if entry.obsolete:
            continue
        strings = (
            list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        )
        if not all(strings):
            untranslated.append(entry)
            continue
        if "fuzzy" in entry.flags:
            fuzzy.append(entry)
        expected = placeholders(entry.msgid)
        if any(placeholders(s) != expected for s in strings):
            mismatched.append(entry)
    return untranslated, fuzzy, mismatched


def short(text, width=100):
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "addons", nargs="*", help="addon names (default: all with a .pot)"
    )
    parser.add_argument(
        "--lang", action="append", help="language code, repeatable (default: de)"
    )
    parser.add_argument("--dry-run", action="store_true", help="do not write any file")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit with status 1 when an entry is untranslated, fuzzy or mismatched",
    )
    args = parser.parse_args(argv)
    langs = args.lang or ["de"]
    addons = args.addons or default_addons()
    if not addons:
        parser.error(f"no addon with i18n/<addon>.pot found under {ROOT}")

    todo = 0
    for addon in addons:
        pot_path = ROOT / addon / "i18n" / f"{addon}.pot"
        if not pot_path.is_file():
            print(f"{addon}: no {pot_path.relative_to(ROOT)}, skipped", file=sys.stderr)
            todo += 1
            continue
        pot = polib.pofile(str(pot_path))
        for lang in langs:
            po_path = pot_path.with_name(f"{lang}.po")
            old = polib.pofile(str(po_path)) if po_path.is_file() else None
            po, stats = merge(pot, old, lang)
            if not args.dry_run:
                po.save(str(po_path))
            untranslated, fuzzy, mismatched = problems(po)
            todo += len(untranslated) + len(fuzzy) + len(mismatched)
            print(
                f"{po_path.relative_to(ROOT)}: {len(po)} entries "
                f"({stats['kept']} kept, {stats['added']} new, "
                f"{stats['dropped']} dropped), "
                f"{len(untranslated)} untranslated, {len(fuzzy)} fuzzy, "
                f"{len(mismatched)} placeholder mismatches"
                + (" [dry run, not written]" if args.dry_run else "")
            )
            for label, entries in (
                ("untranslated", untranslated),
                ("fuzzy", fuzzy),
                ("placeholders differ", mismatched),
            ):
                for entry in entries:
                    where = entry.occurrences[0][0] if entry.occurrences else "?"
                    print(f"  {label}: {short(entry.msgid)}  [{where}]")
    return 1 if args.check and todo else 0


if __name__ == "__main__":
    sys.exit(main())
