"""The content block editor as data: its fields and rows as typed, read from a stored block or
from a posted form, and turned into the block the service checks and saves.

Variants and their locales are rows of plain fields (`variant-0-name`, `variant-0-body-1`...):
the page shows the block's rows and one empty spare of each kind, and empty rows are ignored,
so adding a variant or a locale needs no script."""

from __future__ import annotations

from dataclasses import dataclass

from misiva.authoring.content_blocks import parse_time
from misiva.domain.content_blocks import (
    DEFAULT_VARIANT,
    SPLIT_TOTAL,
    BlockContent,
    BlockVariant,
    ContentBlock,
    NewContentBlock,
)
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.render.blocks import DEFAULT_LOCALE_KEY
from misiva.web.forms import Form
from misiva.web.i18n import N_
from misiva.web.studio_editor import valid_variant

# Bounds on the rows read from a form: far more than an A/B/n test or a block's languages need.
MAX_VARIANTS = 10
MAX_LOCALES = 20
MJML = "mjml"
HTML = "html"
# What <input type="datetime-local"> shows and posts (the page says the times are UTC).
TIME_FORMAT = "%Y-%m-%dT%H:%M"

BAD_PRIORITY = N_("The priority must be a whole number.")
BAD_SPLIT = N_("Each variant's split must be a whole number of percent.")
BAD_LOCALE = N_("A locale is a language tag such as es or es-MX, or default.")


@dataclass(frozen=True, slots=True)
class LocaleRow:
    """One locale of a variant: its key (es, es-MX, default), HTML or MJML, and the body."""

    locale: str = ""
    format: str = HTML
    body: str = ""

    @property
    def blank(self) -> bool:
        return not self.locale.strip() and not self.body.strip()


@dataclass(frozen=True, slots=True)
class VariantRow:
    name: str = ""
    split: str = ""
    locales: tuple[LocaleRow, ...] = ()

    @property
    def blank(self) -> bool:
        return not self.name.strip() and not self.split.strip() and not self.locales


@dataclass(frozen=True, slots=True)
class BlockForm:
    """The editor's fields as typed (kept as text, so a refused save shows them unchanged),
    and the try-out panel's: a contact, a template model, a variant and a locale."""

    key: str = ""
    slot: str = ""
    rule: str = ""
    priority: str = "0"
    starts: str = ""
    ends: str = ""
    variants: tuple[VariantRow, ...] = ()
    email: str = ""
    model: str = ""
    variant: str = ""
    locale: str = ""

    @property
    def variant_names(self) -> list[str]:
        return [row.name.strip() or _letter(i) for i, row in enumerate(self.variants)]

    @property
    def locale_keys(self) -> list[str]:
        """The locales the try-out panel offers: every variant's, in order of appearance."""
        keys: list[str] = []
        for row in self.variants:
            keys.extend(k for k in (r.locale.strip() for r in row.locales) if k not in keys)
        return [k for k in keys if k]


def _letter(index: int) -> str:
    # An unnamed variant is named as the API names one: A, B, C... by its place.
    return chr(ord(DEFAULT_VARIANT) + index)


def new_form() -> BlockForm:
    """A new block: one variant taking every recipient, with default content to write."""
    first = VariantRow(DEFAULT_VARIANT, str(SPLIT_TOTAL), (LocaleRow(DEFAULT_LOCALE_KEY),))
    return BlockForm(variants=(first,))


def stored_form(block: ContentBlock) -> BlockForm:
    rows = tuple(
        VariantRow(
            v.name,
            str(v.split),
            tuple(
                LocaleRow(locale, MJML if c.mjml else HTML, c.mjml or c.html)
                for locale, c in v.contents.items()
            ),
        )
        for v in block.variants
    )
    return BlockForm(
        key=block.key,
        slot=block.slot,
        rule=block.rule or "",
        priority=str(block.priority),
        starts=block.starts_at.strftime(TIME_FORMAT) if block.starts_at else "",
        ends=block.ends_at.strftime(TIME_FORMAT) if block.ends_at else "",
        variants=rows,
    )


def posted_form(form: Form) -> BlockForm:
    """The editor as posted: blank rows (the spares left empty) dropped."""
    variants = []
    for i in range(MAX_VARIANTS):
        prefix = f"variant-{i}-"
        locales = tuple(
            row
            for j in range(MAX_LOCALES)
            if not (
                row := LocaleRow(
                    form.get(f"{prefix}locale-{j}"),
                    MJML if form.get(f"{prefix}format-{j}") == MJML else HTML,
                    form.get(f"{prefix}body-{j}"),
                )
            ).blank
        )
        variant = VariantRow(form.get(prefix + "name"), form.get(prefix + "split"), locales)
        if not variant.blank:
            variants.append(variant)
    return BlockForm(
        key=form.get("key").strip(),
        slot=form.get("slot").strip(),
        rule=form.get("rule").strip(),
        priority=form.get("priority").strip(),
        starts=form.get("starts").strip(),
        ends=form.get("ends").strip(),
        variants=tuple(variants),
        email=form.get("email").strip(),
        model=form.get("model"),
        variant=form.get("variant").strip(),
        locale=form.get("locale").strip(),
    )


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, ErrorCode.INVALID_REQUEST)


def _priority(text: str) -> int:
    try:
        return int(text) if text else 0
    except ValueError:
        raise _invalid(BAD_PRIORITY) from None


def _split(row: VariantRow, alone: bool) -> int:
    # A lone variant left without a split takes everyone.
    text = row.split.strip()
    if alone and not text:
        return SPLIT_TOTAL
    try:
        return int(text)
    except ValueError:
        raise _invalid(BAD_SPLIT) from None


def _contents(row: VariantRow) -> dict[str, BlockContent]:
    contents = {}
    for locale_row in row.locales:
        if not locale_row.body.strip():
            continue
        locale = locale_row.locale.strip() or DEFAULT_LOCALE_KEY
        if not valid_variant(locale):
            raise _invalid(BAD_LOCALE)
        if locale_row.format == MJML:
            contents[locale] = BlockContent(html="", mjml=locale_row.body)
        else:
            contents[locale] = BlockContent(html=locale_row.body)
    return contents


def new_block(form: BlockForm) -> NewContentBlock:
    """The block the form describes, for the service to check (rule, splits, HTML) and save;
    an InvalidRequest for what only the form can get wrong (a number or a date typed badly)."""
    alone = len(form.variants) == 1
    variants = tuple(
        BlockVariant(name, _split(row, alone), _contents(row))
        for name, row in zip(form.variant_names, form.variants, strict=True)
    )
    return NewContentBlock(
        key=form.key,
        slot=form.slot,
        variants=variants,
        rule=form.rule or None,
        priority=_priority(form.priority),
        starts_at=parse_time(form.starts or None, "Starts"),
        ends_at=parse_time(form.ends or None, "Ends"),
    )
