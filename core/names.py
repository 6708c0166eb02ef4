"""One sanitiser for every user-controlled string (an architecture or task name, a setting, a folder name) that
becomes a file name or a label in a figure: what a user can type (``arch=team/tf``, a 300-character name, ``$x$``,
``../..``, a NUL byte, non-ASCII) must never change where a file goes, fail the write, or break the figure.

HTML is escaped where it is written (``html.escape``, and ``explore.html``'s text nodes); these functions make
names safe where escaping cannot help: a path component, and matplotlib's text (where ``$`` starts mathtext and a
leading ``_`` hides a legend entry). Both are length-bounded; a name that is cut keeps a short hash of the whole,
so two long names that share a beginning stay two names.
"""

from __future__ import annotations

import hashlib
import re

FILE_LIMIT = 120  # characters (ASCII only, so bytes too): far below the 255 bytes a file name may have
LABEL_LIMIT = 40  # characters of a legend entry, a panel title's name


def _bounded(text: str, limit: int, whole: str) -> str:
    if len(text) <= limit:
        return text
    digest = hashlib.sha1(whole.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{text[: limit - 8]}…{digest}" if limit > 16 else digest[:limit]


def file_name(text: object, limit: int = FILE_LIMIT) -> str:
    """``text`` as one file-name component: letters, digits, ``.``, ``-``, ``_`` and ``=`` kept, every other
    character (``/``, ``\\``, spaces, control characters, non-ASCII) as ``_``; never empty, ``.`` or ``..``, never
    starting with ``.`` or ``-``; at most ``limit`` characters. A name that had to change ends with a short hash of
    the original, so that ``a/b`` and ``a_b`` stay two files."""
    whole = str(text)
    safe = re.sub(r"[^A-Za-z0-9._=-]", "_", whole).lstrip(".-")
    if safe and safe == whole and len(safe) <= limit:
        return safe
    digest = hashlib.sha1(whole.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{safe[: max(0, limit - 7)]}_{digest}".lstrip("._-") or digest


def label(text: object, limit: int = LABEL_LIMIT) -> str:
    """``text`` as matplotlib shows it: printable characters only (control characters as ``?``), ``$`` escaped
    (no mathtext), no leading ``_`` (matplotlib hides such legend entries), at most ``limit`` characters (a cut
    name ends with ``…`` and a hash of the whole)."""
    whole = str(text)
    shown = "".join(c if c.isprintable() else "?" for c in whole) or "?"
    shown = _bounded(shown, limit, whole)
    if shown.startswith("_"):
        shown = " " + shown
    return shown.replace("$", r"\$")
