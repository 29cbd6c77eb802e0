"""Where the project's files are: the repository (editable install) or the ament share folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path | None:
    """The source checkout this package runs from, when installed editable; else None."""
    candidate = PACKAGE_DIR.parent.parent.parent
    if (candidate / "src" / "interseg" / "setup.py").is_file() and (candidate / "config").is_dir():
        return candidate
    return None


def share_dir() -> Path:
    """Folder holding ``config/`` and ``launch/``: INTERSEG_SHARE, the checkout, or share/interseg."""
    env = os.environ.get("INTERSEG_SHARE")
    if env:
        return Path(env)
    root = repo_root()
    if root is not None:
        return root
    return Path(sys.prefix) / "share" / "interseg"


def config_dir() -> Path:
    return share_dir() / "config"


def launch_dir() -> Path:
    return share_dir() / "launch"


def config_file(name: str) -> Path:
    """A file under config/, with a clear error when it is missing."""
    path = config_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    return path
