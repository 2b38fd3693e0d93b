"""The lists the lint rules look things up in; data, kept apart from the rules that use them."""

from __future__ import annotations

# Public URL shorteners: a link through one hides its target, so filters distrust it (spam
# runs through them, and SpamAssassin's URL_SHORTENER rules and URI blocklists list them).
SHORTENERS = frozenset(
    {
        "bit.ly",
        "bitly.com",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "tiny.cc",
        "rb.gy",
        "t.ly",
        "bl.ink",
        "s.id",
        "v.gd",
        "lnkd.in",
        "adf.ly",
        "shorte.st",
        "bit.do",
        "soo.gd",
        "qr.net",
        "tr.im",
        "x.co",
    }
)

# The end of a variable's name that says it holds a secret (`temporaryPassword`,
# `client_secret`, `new_pwd`); compared with `_` and `-` removed, in lower case.
SECRET_ENDINGS = ("password", "passwd", "pwd", "passphrase", "passcode", "secret")

# File name endings that look like top-level domains in a link's text ("invoice.pdf").
FILE_ENDINGS = frozenset(
    {"pdf", "zip", "html", "htm", "png", "jpg", "jpeg", "gif", "doc", "docx", "xls", "xlsx",
     "csv", "txt", "ics", "xml", "json", "svg", "webp", "mp4", "mp3"}
)  # fmt: skip

# Phrases of promotion, in the starter library's languages (English and Spanish), lower case.
PROMOTIONAL = (
    "% off",
    "sale",
    "discount",
    "offer",
    "deal",
    "deals",
    "buy now",
    "shop now",
    "order now",
    "limited time",
    "free shipping",
    "coupon",
    "promo",
    "promo code",
    "exclusive",
    "save up to",
    "best price",
    "don't miss",
    "last chance",
    "bestseller",
    "new arrivals",
    "oferta",
    "ofertas",
    "descuento",
    "descuentos",
    "rebajas",
    "compra ahora",
    "compra ya",
    "cupón",
    "código promocional",
    "promoción",
    "envío gratis",
    "tiempo limitado",
    "exclusivo",
    "no te lo pierdas",
    "última oportunidad",
    "novedades",
)
