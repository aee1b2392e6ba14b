"""Regenerate the two .po catalogs from one tab-separated table (code, zh_CN, en).

The .po files are what ships and what translators edit; this table is only a
convenience for adding many messages at once. Usage: python scripts/po_from_tsv.py FILE.tsv
(appends codes missing from the catalogs, never overwrites an existing translation).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1] / "src/jxc/i18n/locale"


def main(table: str) -> None:
    rows = [ln.rstrip("\n").split("\t") for ln in Path(table).read_text(encoding="utf-8").splitlines() if ln.strip()]
    for lang, col in (("zh_CN", 1), ("en", 2)):
        path = ROOT / lang / "LC_MESSAGES" / "jxc.po"
        with path.open("rb") as fh:
            cat: Catalog = read_po(fh, locale=lang)
        for row in rows:
            if row[0] not in cat:
                cat.add(row[0], row[col])
        with path.open("wb") as fh:
            write_po(fh, cat, width=0, omit_header=False, sort_output=False)


if __name__ == "__main__":
    main(sys.argv[1])
