"""The house's own conventions, checked: generated docs are current, modules stay small."""

from __future__ import annotations

from pathlib import Path

from misiva.config import settings_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_doc_is_generated_from_settings() -> None:
    assert (ROOT / "docs" / "configuration.md").read_text() == settings_markdown(), (
        "docs/configuration.md is stale: run `make docs`"
    )


def test_every_module_says_its_job_and_stays_small() -> None:
    for path in (ROOT / "src" / "misiva").rglob("*.py"):
        text = path.read_text()
        if "migrations/versions" in str(path):
            continue
        assert text.lstrip().startswith('"""'), f"{path} has no module docstring"
        assert text.count("\n") < 500, f"{path} is over 500 lines: split it by job"
