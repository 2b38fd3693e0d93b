"""Render sends that name a stored template: published version, layout, locale, contact."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from misiva.domain.automation import HISTORY_KEY, HISTORY_SHOWN, history_view
from misiva.domain.contacts import Contact
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import MisivaError, NotFound
from misiva.domain.message import DEFAULT_STREAM, SendFields
from misiva.domain.records import Server
from misiva.domain.templates import Template, TemplateType, TemplateVersion
from misiva.ingest.blocks import ContentBlockLoader
from misiva.ingest.promo import PromoAllocator
from misiva.ingest.tenants import ServerContext
from misiva.mail.addresses import parse_address_list
from misiva.render.blocks import BLOCK_FUNCTION, BlockFiller
from misiva.render.cache import CompiledCache
from misiva.render.compile import CompiledTemplate, compile_template
from misiva.render.locales import choose_variant
from misiva.render.promo import PROMO_VAR
from misiva.render.render import render
from misiva.storage import Database, Tx
from misiva.storage import app_events as event_store
from misiva.storage import contacts as contact_store
from misiva.storage import templates as template_store
from misiva.tracking.consent_tokens import ConsentLinks


@dataclasses.dataclass(frozen=True, slots=True)
class _Loaded:
    template: Template
    layout: Template | None
    # The versions a send uses, read once a request: a query a message was a quarter of
    # the API's time in the soak (bench/soak.py).
    version: TemplateVersion
    layout_version: TemplateVersion | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Pending:
    """A send ready to render but for its promo codes, allocated once the read transaction
    is closed: waiting for a writer's connection while holding a reader's would let a burst
    of sends take every connection of the pool and wait on each other."""

    item: SendFields
    compiled: CompiledTemplate
    model: dict[str, Any]
    locale: str
    template: Template
    variant: str
    recipient: str | None
    message_id: str
    # The content block chosen for each slot the template places (None: it places none).
    blocks: BlockFiller | None = None
    # The pools whose codes it needs: the template's `promo_code()` calls and its chosen
    # blocks' (a block not chosen for this recipient takes no code from them).
    promo_pools: frozenset[str] = frozenset()


class TemplateRenderer:
    """Fills a templated send's Subject, HtmlBody and TextBody for its recipient.

    Compiling (MJML, layout, CSS inlining, the derived text part) happens once per version,
    kept in a bounded cache; a send costs a few small queries a request (each template and
    its version once, then the recipients' contacts), none a message.
    """

    def __init__(
        self,
        db: Database,
        cache: CompiledCache | None = None,
        *,
        links: ConsentLinks | None = None,
    ) -> None:
        self._db = db
        self._cache = cache or CompiledCache()
        self._links = links
        self._promo = PromoAllocator(db)
        self._blocks = ContentBlockLoader()

    async def render_all(
        self,
        context: ServerContext,
        items: Sequence[SendFields | MisivaError],
        message_ids: Sequence[str],
    ) -> list[SendFields | MisivaError]:
        templated = [i for i in items if isinstance(i, SendFields) and i.uses_template]
        if not templated:
            return list(items)
        # Only reads: on SQLite a read transaction takes no write lock, so rendering a batch
        # of 500 no longer holds back every commit and claim while it runs.
        async with self._db.reading() as tx:
            loaded = await self._load_templates(tx, context.server.id, templated)
            contacts = await contact_store.get_contacts(
                tx, context.server.id, [r for i in templated if (r := _first_recipient(i))]
            )
            out: list[SendFields | MisivaError | _Pending] = []
            for item, message_id in zip(items, message_ids, strict=True):
                if not isinstance(item, SendFields) or not item.uses_template:
                    out.append(item)
                    continue
                try:
                    out.append(
                        await self._render_one(tx, context, item, message_id, loaded, contacts)
                    )
                except MisivaError as error:
                    out.append(error)
        return [await self._with_codes(context, entry) for entry in out]

    async def _with_codes(
        self, context: ServerContext, entry: SendFields | MisivaError | _Pending
    ) -> SendFields | MisivaError:
        if not isinstance(entry, _Pending):
            return entry
        try:
            codes = await self._promo.codes(
                context.server.id, entry.promo_pools, entry.recipient, entry.message_id
            )
            return _finish(entry, codes)
        except MisivaError as error:
            return error

    async def _load_templates(
        self, tx: Tx, server_id: int, items: list[SendFields]
    ) -> dict[str, _Loaded | MisivaError]:
        loaded: dict[str, _Loaded | MisivaError] = {}
        for item in items:
            ref = _ref(item)
            if ref in loaded:
                continue
            template = await template_store.get_template(tx, server_id, ref)
            if template is None or template.template_type is not TemplateType.STANDARD:
                loaded[ref] = _not_found(item)
                continue
            layout = layout_version = None
            if template.layout_alias:
                layout = await template_store.get_template(tx, server_id, template.layout_alias)
            if layout is not None:
                layout_version = await template_store.get_version(
                    tx, layout.id, layout.current_version
                )
            version = await template_store.get_version(tx, template.id, template.current_version)
            assert version is not None
            loaded[ref] = _Loaded(template, layout, version, layout_version)
        return loaded

    async def _render_one(
        self,
        tx: Tx,
        context: ServerContext,
        item: SendFields,
        message_id: str,
        loaded: dict[str, _Loaded | MisivaError],
        contacts: dict[str, Contact],
    ) -> SendFields | _Pending:
        found = loaded[_ref(item)]
        if isinstance(found, MisivaError):
            raise found
        recipient = _first_recipient(item)
        contact = contacts.get(recipient.lower()) if recipient else None
        server = context.server
        locale = item.locale or (contact.locale if contact else None) or server.default_locale
        compiled, variant = self._compiled(found, item, contact, server.default_locale)
        stream = item.message_stream or DEFAULT_STREAM
        settings = context.streams.get(stream)
        handles = settings is not None and settings.subscriptions.handles_unsubscribe
        person = contact_namespace(contact, recipient)
        if recipient and (compiled.reads("contact", HISTORY_KEY) or self._blocks.slots(compiled)):
            # Only for a template that reads it, or whose slots' block rules may: a query.
            found_events = await event_store.recent_by_contact(
                tx, server.id, [recipient], HISTORY_SHOWN
            )
            person[HISTORY_KEY] = history_view(found_events.get(recipient.lower(), []))
        model = {
            # First, so that a notice about another stream (a welcome) can name its own.
            **self._subscription_links(compiled, server, stream, recipient, message_id, handles),
            **(item.template_model or {}),
            "contact": person,
            "server": {"name": server.name, "brand": server.brand},
            "message": {
                "id": message_id,
                "stream": stream,
                "locale": locale,
            },
        }
        blocks = await self._blocks.filler(
            tx, server.id, compiled, model, email=recipient, locale=locale
        )
        pools = compiled.promo_pools | (blocks.promo_pools if blocks is not None else frozenset())
        pending = _Pending(
            item,
            compiled,
            model,
            locale,
            found.template,
            variant,
            recipient,
            message_id,
            blocks,
            pools,
        )
        return pending if pools else _finish(pending, {})

    def _subscription_links(
        self,
        compiled: CompiledTemplate,
        server: Server,
        stream: str,
        recipient: str | None,
        message_id: str,
        handles_unsubscribe: bool,
    ) -> dict[str, str]:
        """`unsubscribe_url` and `preferences_url` for a footer: the very URL List-Unsubscribe
        carries, so link tracking leaves both alone. Signed only when the template reads
        them (10 µs a message); empty when no link can be signed, and `unsubscribe_url`
        empty on a stream that leaves unsubscribes alone (a receipt offers no way out)."""
        read = {path[0] for path in compiled.paths}
        links = {"unsubscribe_url": "", "preferences_url": ""}
        if self._links is None or not recipient or not server.secret:
            return links
        secret = server.secret
        if "unsubscribe_url" in read and handles_unsubscribe:
            links["unsubscribe_url"] = self._links.unsubscribe(
                server.id, secret, stream, recipient, message_id
            )
        if "preferences_url" in read:
            links["preferences_url"] = self._links.preferences(
                server.id, secret, recipient, message_id
            )
        return links

    def _compiled(
        self,
        found: _Loaded,
        item: SendFields,
        contact: Contact | None,
        default_locale: str,
    ) -> tuple[CompiledTemplate, str]:
        template, layout, version = found.template, found.layout, found.version
        number = version.number
        variant = choose_variant(
            version.variants.keys(),
            item.locale,
            contact.locale if contact else None,
            default_locale=default_locale,
        )
        layout_version = found.layout_version
        layout_number = layout_version.number if layout_version else None
        # Versions are immutable, so a key naming them never goes stale.
        key = (
            template.id,
            number,
            variant,
            layout.id if layout else None,
            layout_number,
            item.inline_css,
        )
        cached = self._cache.get(key)
        if cached is not None:
            return cached, variant
        layout_variant = None
        if layout_version is not None:
            chosen = choose_variant(
                layout_version.variants.keys(), variant, default_locale=default_locale
            )
            layout_variant = layout_version.variants[chosen]
        compiled = compile_template(
            version.variants[variant], layout_variant, inline=item.inline_css
        )
        self._cache.put(key, compiled)
        return compiled, variant


def contact_namespace(contact: Contact | None, recipient: str | None) -> dict[str, Any]:
    """`contact` as templates see it: standard fields that are set, custom attributes beside
    them (a standard field wins a clash); absent fields are absent, so `is defined` works."""
    if contact is None:
        return {"email": recipient} if recipient else {}
    standard = {
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "locale": contact.locale,
        "country": contact.country,
        "city": contact.city,
        "postal_address": contact.postal_address,
        "member_number": contact.member_number,
        "external_id": contact.external_id,
    }
    return {**contact.attributes, **{k: v for k, v in standard.items() if v is not None}}


def _finish(pending: _Pending, promo_codes: dict[str, str]) -> SendFields:
    # Last, so a model cannot bring codes of its own.
    model = {**pending.model, PROMO_VAR: promo_codes}
    if pending.blocks is not None:
        model[BLOCK_FUNCTION] = pending.blocks
    rendered = render(pending.compiled, model, locale=pending.locale)
    return dataclasses.replace(
        pending.item,
        subject=rendered.subject,
        html_body=rendered.html_body,
        text_body=rendered.text_body,
        template_id=pending.template.id,
        template_version=pending.template.published_version,
        locale=pending.variant,
        content_blocks=pending.blocks.choices if pending.blocks is not None else (),
    )


def _ref(item: SendFields) -> str:
    return str(item.template_id) if item.template_id is not None else str(item.template_alias)


def _first_recipient(item: SendFields) -> str | None:
    """One-to-one personalisation reads the profile of the first To recipient."""
    try:
        to = parse_address_list("To", item.to)
    except MisivaError:
        return None
    return to[0].email if to else None


def _not_found(item: SendFields) -> NotFound:
    field = "TemplateId" if item.template_id is not None else "TemplateAlias"
    return NotFound(
        f"The '{field}' associated with this request is not valid or was not found.",
        ErrorCode.TEMPLATE_NOT_FOUND,
    )
