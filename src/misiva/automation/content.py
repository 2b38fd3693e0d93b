"""A rule's template as its message will render: the published version (else the latest) in
the contact's locale, with its layout; what the event's data lacks for it, and its subject.

Checked when the event arrives, so a rule whose template needs a variable the event lacks
records an error on the event (and alerts) instead of sending a blank email later."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from misiva.domain.contacts import Contact
from misiva.domain.errors import MisivaError
from misiva.domain.records import Server
from misiva.domain.templates import TemplateType
from misiva.render.cache import CompiledCache
from misiva.render.compile import CompiledTemplate, compile_template
from misiva.render.errors import MissingVariables
from misiva.render.locales import choose_variant
from misiva.render.render import check_model, render
from misiva.storage import Tx
from misiva.storage import templates as template_store

# The `contact` namespace as templates see it (the send path's own function, handed over by
# the door: stages do not import ingest).
ContactView = Callable[[Contact | None, str | None], dict[str, Any]]

# Versions are immutable, so compiled ones are shared by every request of the process.
# (Keyed by what names a version, see load().)
_COMPILED = CompiledCache()


@dataclass(frozen=True, slots=True)
class Loaded:
    """The rule's template compiled for one contact, or why it cannot be."""

    ref: str
    compiled: CompiledTemplate | None
    locale: str
    problem: str = ""


async def load(tx: Tx, server: Server, ref: str, contact: Contact | None) -> Loaded:
    """The template `ref` (alias or id) as a send to `contact` would get it now."""
    template = await template_store.get_template(tx, server.id, ref)
    if template is None or template.template_type is not TemplateType.STANDARD:
        return Loaded(ref, None, "", f"template {ref} was not found")
    number = template.current_version
    version = await template_store.get_version(tx, template.id, number)
    if version is None:
        return Loaded(ref, None, "", f"template {ref} has no version to send")
    contact_locale = contact.locale if contact else None
    default = server.default_locale
    variant = choose_variant(version.variants.keys(), contact_locale, default_locale=default)
    layout = None
    if template.layout_alias:
        layout = await template_store.get_template(tx, server.id, template.layout_alias)
    layout_number = layout.current_version if layout else None
    # The version's row id and creation time name it beyond one database: the cache is the
    # process's, and a process may meet several databases (tests do; so could tooling).
    key = (
        version.id,
        version.created_at,
        variant,
        layout.id if layout else None,
        layout_number,
        True,
    )
    cached = _COMPILED.get(key)
    if cached is not None:
        return Loaded(ref, cached, variant)
    layout_variant = None
    if layout is not None and layout_number is not None:
        layout_version = await template_store.get_version(tx, layout.id, layout_number)
        if layout_version is not None:
            chosen = choose_variant(layout_version.variants.keys(), variant, default_locale=default)
            layout_variant = layout_version.variants[chosen]
    try:
        compiled = compile_template(version.variants[variant], layout_variant)
    except MisivaError as error:
        return Loaded(ref, None, variant, f"template {ref} does not compile: {error.message}")
    _COMPILED.put(key, compiled)
    return Loaded(ref, compiled, variant)


def lacking(ref: str, missing: list[str]) -> str:
    """`template order-confirmation needs order.number, which the event's data lacks`."""
    from_contact = [m for m in missing if m.startswith("contact.")]
    from_data = [m for m in missing if not m.startswith("contact.")]
    parts = []
    if from_data:
        parts.append(f"{', '.join(from_data)}, which the event's data lacks")
    if from_contact:
        parts.append(f"{', '.join(from_contact)}, which the contact's profile lacks")
    return f"template {ref} needs " + "; and ".join(parts)


def _namespaces(
    server: Server, contact: Mapping[str, Any], stream: str, locale: str, message_id: str
) -> dict[str, Mapping[str, Any]]:
    return {
        "contact": contact,
        "server": {"name": server.name, "brand": server.brand},
        "message": {"id": message_id, "stream": stream, "locale": locale},
    }


def problem_with(
    loaded: Loaded,
    server: Server,
    data: Mapping[str, Any],
    contact: Mapping[str, Any],
    stream: str,
) -> str:
    """Why a message of this template to this contact with this data would be broken, or ""."""
    if loaded.compiled is None:
        return loaded.problem
    names = _namespaces(server, contact, stream, loaded.locale, "")
    missing = check_model(loaded.compiled, data, **names)
    return lacking(loaded.ref, missing) if missing else ""


def subject_of(
    loaded: Loaded,
    server: Server,
    data: Mapping[str, Any],
    contact: Mapping[str, Any],
    stream: str,
) -> tuple[str | None, str]:
    """The subject the message would have, or the error that stops it: (subject, problem).
    Rendered whole, as a send is (content blocks empty, promo codes shown as KEY-PREVIEW)."""
    if loaded.compiled is None:
        return None, loaded.problem
    names = _namespaces(server, contact, stream, loaded.locale, "dry-run")
    try:
        rendered = render(loaded.compiled, data, locale=loaded.locale, **names)
    except MissingVariables as error:
        return None, lacking(loaded.ref, error.missing)
    except MisivaError as error:
        return None, f"template {loaded.ref} does not render: {error.message}"
    return rendered.subject, ""
