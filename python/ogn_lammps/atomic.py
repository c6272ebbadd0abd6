"""Atomic file output: a reader sees the old file or the new one, never half of one. Every
file the package writes for a reader goes through here, but for HDF5 files (dataset, rollout),
which write a temporary file of their own and rename it."""

from __future__ import annotations

import io
import os
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, sync it, and rename it over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_figure(fig, path: str | Path, dpi: int = 110) -> None:
    """Render a matplotlib figure in memory, close it, and write it atomically (the format
    from the file's suffix, PNG without one): a plot is never seen half-written."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix[1:] or "png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
