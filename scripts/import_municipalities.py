"""Regenerate content/municipalities.yml from shared/reference/kommuner.csv.

Usage:
    python scripts/import_municipalities.py \
        ../shared/reference/kommuner.csv content/municipalities.yml
Only values the reference marks as seen in a source are kept (phone, child/family page).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import yaml


def main(src: Path, dst: Path) -> None:
    rows = []
    with src.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            rows.append(
                {
                    "code": row["code"].zfill(3),
                    "name": row["name"],
                    "name_ascii": row["name_ascii"],
                    "region": row["region"],
                    "website": row["website"],
                    "phone": row["main_phone"] or None,
                    "child_family_url": row["child_family_url"] or None,
                    "verified": row["verified"] == "yes",
                    "sources": [s.strip() for s in row["source"].split("|") if s.strip()],
                }
            )
    header = (
        "# Danmarks 98 kommuner. Lavet ud fra shared/reference/kommuner.csv med\n"
        "# scripts/import_municipalities.py.\n"
        "# Telefon og link vises kun, hvor de er set i en kilde.\n"
        "# Redaktører: tjek tal og links på kommunens egen hjemmeside, før I godkender.\n"
    )
    body = yaml.safe_dump({"municipalities": rows}, allow_unicode=True, sort_keys=False, width=200)
    dst.write_text(header + "version: 0\n" + body, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
