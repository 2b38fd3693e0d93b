"""The starter template library: a branded layout and lifecycle templates in Spanish and English."""

from __future__ import annotations

import pathlib


def starter_dir() -> pathlib.Path:
    """This package's folder; its `templates/` sub-folder holds one folder per template, in the
    format `misiva templates pull` writes and `push` reads."""
    return pathlib.Path(__file__).resolve().parent
