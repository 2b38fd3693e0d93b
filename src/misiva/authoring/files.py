"""Templates as files, for git: one folder per template, one subfolder per locale variant.

<alias>/template.toml     name, alias, type (Standard | Layout), layout
<alias>/test-model.json   a TemplateModel for previews and tests (kept in git only)
<alias>/<locale>/subject.txt, body.html or body.mjml, body.txt
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from misiva.domain.errors import InvalidRequest
from misiva.domain.templates import TemplateContent, TemplateType

_PARTS = {
    "subject": "subject.txt",
    "html_body": "body.html",
    "mjml_body": "body.mjml",
    "text_body": "body.txt",
}


@dataclass(frozen=True, slots=True)
class TemplateFile:
    alias: str
    name: str
    template_type: TemplateType
    layout: str | None
    variants: dict[str, TemplateContent]
    test_model: dict[str, Any] | None = field(default=None, compare=False)


def read_folder(root: Path) -> list[TemplateFile]:
    """Every template folder under root, layouts first (templates name their layout)."""
    if not root.is_dir():
        raise InvalidRequest(f"{root} is not a folder")
    found = [
        _read_one(folder)
        for folder in sorted(root.iterdir())
        if (folder / "template.toml").is_file()
    ]
    return sorted(found, key=lambda t: (t.template_type is not TemplateType.LAYOUT, t.alias))


def _read_one(folder: Path) -> TemplateFile:
    try:
        meta = tomllib.loads((folder / "template.toml").read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequest(f"{folder}/template.toml: {exc}") from exc
    kinds = [
        k for k in TemplateType if k.value.lower() == str(meta.get("type", "Standard")).lower()
    ]
    if not kinds:
        raise InvalidRequest(f"{folder}/template.toml: type must be Standard or Layout")
    variants = {
        sub.name: _read_variant(sub)
        for sub in sorted(folder.iterdir())
        if sub.is_dir() and any((sub / name).is_file() for name in _PARTS.values())
    }
    if not variants:
        raise InvalidRequest(f"{folder} has no locale folder (e.g. es/body.html)")
    model_file = folder / "test-model.json"
    return TemplateFile(
        alias=str(meta.get("alias") or folder.name),
        name=str(meta.get("name") or folder.name),
        template_type=kinds[0],
        layout=meta.get("layout") or None,
        variants=variants,
        test_model=json.loads(model_file.read_text(encoding="utf-8"))
        if model_file.is_file()
        else None,
    )


def _read_variant(folder: Path) -> TemplateContent:
    values: dict[str, str | None] = {}
    for part, name in _PARTS.items():
        path = folder / name
        values[part] = path.read_text(encoding="utf-8") if path.is_file() else None
    subject = (values.pop("subject") or "").strip()
    return TemplateContent(subject=subject, **values)


def write_folder(root: Path, template: TemplateFile) -> None:
    folder = root / template.alias
    folder.mkdir(parents=True, exist_ok=True)
    meta = [
        f"name = {json.dumps(template.name, ensure_ascii=False)}",
        f"alias = {json.dumps(template.alias)}",
        f'type = "{template.template_type.value}"',
    ]
    if template.layout:
        meta.append(f"layout = {json.dumps(template.layout)}")
    (folder / "template.toml").write_text("\n".join(meta) + "\n", encoding="utf-8")
    if template.test_model is not None:
        (folder / "test-model.json").write_text(
            json.dumps(template.test_model, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    for locale, content in template.variants.items():
        sub = folder / locale
        sub.mkdir(exist_ok=True)
        for part, name in _PARTS.items():
            value = getattr(content, part)
            path = sub / name
            if value:
                path.write_text(value, encoding="utf-8")
            elif path.exists():
                path.unlink()
