"""Errors told to the user as one clear line (exit 2) before, or instead of, training."""

import errno
import re


class UserError(Exception):
    """Something the user can put right: a setting, a path, a folder in use, a damaged checkpoint. ``run.py`` and
    the report entry points print its message as one line and exit 2."""


class ConfigError(UserError, ValueError):
    """A setting is invalid. The message says what was wrong and what would be valid."""


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


def cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ``…`` marking the cut."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(" ,;:") + "…"


def first_line(e: BaseException, limit: int = 160) -> str:
    """``Type: first line of the message`` of an exception (for one-line reports of a library's error), cut at a
    word boundary."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {cut(text[0], limit)}" if text else type(e).__name__


#: what the file system says that the user can put right (disk full, no permission, a file where a folder
#: belongs or the reverse, a read-only file system, a name too long, a loop of symbolic links)
USER_OS_ERRORS = {
    errno.ENOSPC,
    errno.EACCES,
    errno.EPERM,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EROFS,
    errno.EDQUOT,
    errno.EEXIST,
    errno.ENAMETOOLONG,
    errno.ELOOP,
}


def os_error_line(e: OSError) -> str | None:
    """One line naming the path for an OSError the user can put right; None for any other (a real bug)."""
    if e.errno not in USER_OS_ERRORS:
        return None
    path = e.filename if e.filename is not None else "a file"
    hint = {
        errno.ENOSPC: "free some space",
        errno.EDQUOT: "free some space",
        errno.EROFS: "choose a writable place",
        errno.EEXIST: "a file is where a folder must be made: move it away or choose another folder",
        errno.ENAMETOOLONG: "a name in it is longer than the file system allows (255 bytes): choose a shorter one",
        errno.ELOOP: "a symbolic link in it points back to itself: remove the loop",
    }.get(e.errno, "check the path and its permissions")
    return f"cannot write {path} ({e.strerror or errno.errorcode.get(e.errno, e.errno)}); {hint}, then run again"


class OneLineOSError(Exception):
    """An OSError the user can put right, already said as one ``error:`` line on stderr; exit 2."""


def or_one_line(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``; an OSError the user can put right (full disk, no permission, a file where a
    folder belongs, a name too long) is printed as one ``error:`` line naming the path and raised as
    :class:`OneLineOSError` (the report entry points return 2); any other error keeps its traceback."""
    import sys

    try:
        return fn(*args, **kwargs)
    except OSError as e:
        line = os_error_line(e)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        raise OneLineOSError(line) from None


#: what torch and Python say when a tensor cannot be had: the CPU allocator, a size past what can be addressed, CUDA
MEMORY_TEXTS = ("can't allocate memory", "Storage size calculation overflowed", "out of memory")


def memory_error_line(e: BaseException) -> str | None:
    """One line for a tensor too large for the machine (MemoryError, torch's OutOfMemoryError, the CPU allocator's
    RuntimeError); None for any other error (a real bug)."""
    if not (
        isinstance(e, MemoryError)
        or type(e).__name__ == "OutOfMemoryError"
        or (isinstance(e, RuntimeError) and any(t in str(e) for t in MEMORY_TEXTS))
    ):
        return None
    asked = re.search(r"allocate (\d+) bytes", str(e))
    what = f"a tensor of {int(asked.group(1)) / 1e9:,.1f} GB" if asked else first_line(e, 120)
    return (
        f"out of memory ({what}); lower trainer.batch_size, trainer.eval_batch_size, the arch's "
        "sizes (d_model, d_ff, n_layers, hidden, channels) or the task's sizes (n_val, n_test, delay, max_len)"
    )


def whole(name: str, value, low: int | None = None, allow_none: bool = False) -> int | None:
    """``value`` when it is a whole number (≥ ``low``); one ConfigError line otherwise (2.5 is never truncated)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        bound = f" ≥ {low}" if low is not None else ""
        raise ConfigError(f"{name}={value!r} must be a whole number{bound}{', or null' if allow_none else ''}")
    return value


def number(name: str, value, allow_none: bool = False) -> float | None:
    """``value`` when it is a number (int or float); one ConfigError line otherwise."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}={value!r} must be a number{', or null' if allow_none else ''}")
    return value
