"""Atomic writes: readers see the old file or the new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core import faults

TEMP_SUFFIX = ".tmp"  # atomic writes go through ".<name>.<random>.tmp" beside the file


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of it. The file
    gets the mode an ordinary write would give it (0666 less the umask), not mkstemp's 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        faults.point(f"write:{path.name}", path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_savez(path: Path, **arrays) -> None:
    """``np.savez_compressed`` through :func:`atomic_write_bytes`: a full disk leaves no partial ``.npz``."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def remove_temp_files(folder: Path) -> None:
    """Delete the temporary files of atomic writes that a crash cut short (the caller owns ``folder``)."""
    for tmp in [*Path(folder).glob(f".*{TEMP_SUFFIX}"), *Path(folder).glob(f".hydra/.*{TEMP_SUFFIX}")]:
        tmp.unlink(missing_ok=True)
