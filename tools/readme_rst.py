#!/usr/bin/env python3
"""Write each addon's README.rst from its manifest and ``readme/*.md``.

The sections follow OCA's layout: the description, *Configuration*,
*Usage*, then the credits. Usage::

    python3 tools/readme_rst.py            # write every addon's README.rst
    python3 tools/readme_rst.py --check    # exit 1 when one is not current
"""

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = (
    ("DESCRIPTION.md", None),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
)


def _inline(text):
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"`\1 <\2>`_", text)
    return re.sub(r"(?<!`)`([^`]+)`(?!`|_)", r"``\1``", text)


def _heading(title, char):
    return f"{title}\n{char * len(title)}\n"


def md_to_rst(markdown):
    out = []
    for line in markdown.strip().splitlines():
        match = re.match(r"^(#+)\s+(.*)$", line)
        if match:
            out.append(_heading(match.group(2), "~"))
        else:
            out.append(_inline(line))
    return "\n".join(out) + "\n"


def render(addon):
    manifest = ast.literal_eval((addon / "__manifest__.py").read_text())
    name = manifest["name"]
    bar = "=" * len(name)
    parts = [
        f"{bar}\n{name}\n{bar}\n",
        ".. |badge1| image:: https://img.shields.io/badge/licence-LGPL--3-blue.png\n"
        "    :target: http://www.gnu.org/licenses/lgpl-3.0-standalone.html\n"
        "    :alt: License: LGPL-3\n\n|badge1|\n",
    ]
    for filename, title in SECTIONS:
        path = addon / "readme" / filename
        if not path.exists():
            continue
        if title:
            parts.append(_heading(title, "="))
        parts.append(md_to_rst(path.read_text()))
    parts.append(_heading("Credits", "="))
    parts.append(_heading("Authors", "-"))
    parts.append("".join(f"* {a.strip()}\n" for a in manifest["author"].split(",")))
    return "\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for addon in sorted(ROOT.glob("crm_strategic_kpi*/")):
        if not (addon / "__manifest__.py").exists():
            continue
        text = render(addon)
        target = addon / "README.rst"
        if target.exists() and target.read_text() == text:
            continue
        if args.check:
            stale.append(str(target.relative_to(ROOT)))
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("not current (run tools/readme_rst.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
