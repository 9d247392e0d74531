"""Regenerate the code-list CSVs beside this file from the iWmo/iJw 3.2 XSDs (basisschema.xsd).

    python pipeline/reports/reference/build_codelists.py ../shared/reference/iwmo

Writes return_codes.csv (WJ001), product_categories.csv (WMO020 Wmo, JZ020 Jeugd) and
units.csv (WJ756): code, name (the XSD's own Dutch description), law where it differs.
municipalities.csv (CBS gemeentecodes) is kept by hand from CBS's public list.
"""

from __future__ import annotations

import csv
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

XS = "{http://www.w3.org/2001/XMLSchema}"
HERE = Path(__file__).parent


def enumeration(xsd: Path, type_name: str) -> dict[str, str]:
    root = ET.parse(xsd).getroot()
    for simple in root.iter(f"{XS}simpleType"):
        if simple.get("name") == type_name:
            out = {}
            for enum in simple.iter(f"{XS}enumeration"):
                doc = enum.find(f"{XS}annotation/{XS}documentation")
                text = " ".join((doc.text or "").split()) if doc is not None else ""
                out[enum.get("value")] = text.rstrip(".")
            return out
    raise KeyError(type_name)


def write(name: str, header: list[str], rows: list[list[str]]) -> None:
    with open(HERE / name, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(reference: Path) -> None:
    wmo = reference / "iwmo-3.2" / "xsd" / "basisschema.xsd"
    jw = reference / "ijw-3.2" / "xsd" / "basisschema.xsd"
    codes = enumeration(wmo, "LDT_RetourCode")
    write("return_codes.csv", ["code", "name"], [[c, n] for c, n in sorted(codes.items())])
    categories = [["wmo", c, n] for c, n in sorted(enumeration(wmo, "LDT_ProductCategorie").items())]
    categories += [["jeugd", c, n] for c, n in sorted(enumeration(jw, "LDT_ProductCategorie").items())]
    write("product_categories.csv", ["law", "code", "name"], categories)
    write("units.csv", ["code", "name"], [[c, n] for c, n in sorted(enumeration(wmo, "LDT_Eenheid").items())])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
