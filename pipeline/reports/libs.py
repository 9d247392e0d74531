"""The JavaScript libraries every page carries, gzip-compressed and base64-encoded.

- plotly.js: the *cartesian* bundle of the same plotly.js version that the installed ``plotly``
  package ships (``static/plotly-cartesian-<version>.min.js.gz``, from npm's
  ``plotly.js-cartesian-dist-min``; scatter, bar, box and histogram are all the pages draw). When
  the installed plotly.py ships another plotly.js version, its full bundle is used instead.
- DataTables: the offline bundle that ``itables`` ships (DataTables 2 with jQuery), turned from an
  ES module into a classic script that sets ``window.ZBDataTables``.

A page unpacks them with the browser's own DecompressionStream, so it opens alone, offline, from
a mail or an archive, and weighs about 0.9 MB instead of 5 MB. Output is byte-identical per input
(gzip with mtime 0).
"""

from __future__ import annotations

import base64
import functools
import gzip
import re
from pathlib import Path

import itables
from plotly.offline import get_plotlyjs, get_plotlyjs_version

STATIC = Path(__file__).parent / "static"
PLOTLY_VERSION = "4.1.1"  # the vendored cartesian bundle's version
PLOTLY_BUNDLE = STATIC / f"plotly-cartesian-{PLOTLY_VERSION}.min.js.gz"
ITABLES_VERSION = "2.9.1"


def _pack(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


def plotly_source() -> tuple[bytes, str]:
    """(plotly.js source, which bundle) for the installed plotly.py."""
    if get_plotlyjs_version() == PLOTLY_VERSION and PLOTLY_BUNDLE.exists():
        return gzip.decompress(PLOTLY_BUNDLE.read_bytes()), f"plotly.js {PLOTLY_VERSION} cartesian"
    return get_plotlyjs().encode("utf-8"), f"plotly.js {get_plotlyjs_version()} full"


def datatables_source() -> tuple[bytes, bytes]:
    """(DataTables as a classic script, its CSS) from itables' offline bundle."""
    folder = Path(itables.__file__).parent / "html"
    js = (folder / "dt_bundle.js").read_text(encoding="utf-8")
    start = js.rfind("export{")
    if start < 0:
        raise RuntimeError("itables' dt_bundle.js no longer has an export list; update libs.py")
    end = js.index("}", start) + 1
    names = {}
    for item in js[start + len("export{"): end - 1].split(","):
        local, _, exported = item.strip().partition(" as ")
        names[(exported or local).strip()] = local.strip()
    exports = {"DataTable": names["default"], "jQuery": names["jQuery"]}
    assignment = "window.ZBDataTables={" + ",".join(f"{k}:{v}" for k, v in exports.items()) + "};"
    classic = js[:start] + assignment + js[end:]
    if "import.meta" in classic or re.search(r"^\s*import[\s{]", classic, re.M):
        raise RuntimeError("itables' dt_bundle.js imports modules; it cannot run as a classic script")
    return classic.encode("utf-8"), (folder / "dt_bundle.css").read_bytes()


@functools.lru_cache(maxsize=1)
def packed() -> dict[str, str]:
    """The three libraries as gzip + base64 text, ready to sit in a <script> element."""
    plotly, _ = plotly_source()
    datatables, css = datatables_source()
    return {"plotly": _pack(plotly), "datatables": _pack(datatables), "datatables_css": _pack(css)}


@functools.lru_cache(maxsize=1)
def loader() -> str:
    return (STATIC / "loader.js").read_text(encoding="utf-8")
