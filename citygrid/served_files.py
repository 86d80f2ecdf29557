"""Finding a file a URL names inside a folder the app serves, whatever the URL holds."""

from __future__ import annotations

from pathlib import Path


def file_inside(folder: Path, path: str) -> Path | None:
    """The regular file at `path` under `folder` (an absolute, resolved folder), or None when
    there is none: outside the folder (`..`, a link out), missing, or a name the file system
    refuses (a NUL byte, a name too long), which would otherwise raise."""
    try:
        target = (folder / path).resolve()
        if target.is_relative_to(folder) and target.is_file():
            return target
    except (OSError, ValueError):
        return None
    return None
