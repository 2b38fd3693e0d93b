"""Who the demo shop writes to, and how their mail systems and mail clients answer.

Data only: names, the receiving servers' replies and the user agents of mail clients, as
they look in real traffic. Every address is on a domain RFC 2606 reserves (example.com,
example.net, example.org), so the demo can never mail a real person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from misiva.domain.contacts import Contact
from misiva.domain.smtp import SMTPReply

SPANISH_FIRST: Final = (
    "Lucía",
    "María",
    "Carmen",
    "Ana",
    "Laura",
    "Marta",
    "Paula",
    "Elena",
    "Sara",
    "Julia",
    "Alba",
    "Irene",
    "Nerea",
    "Pilar",
    "Rocío",
    "Hugo",
    "Pablo",
    "Javier",
    "Daniel",
    "Álvaro",
    "Sergio",
    "Adrián",
    "Diego",
    "Manuel",
    "Jorge",
    "Iker",
    "Mario",
    "Andrés",
    "Raúl",
    "Íñigo",
)
SPANISH_LAST: Final = (
    "García",
    "Fernández",
    "González",
    "Rodríguez",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Martín",
    "Jiménez",
    "Ruiz",
    "Hernández",
    "Díaz",
    "Moreno",
    "Muñoz",
    "Álvarez",
    "Romero",
    "Navarro",
    "Torres",
    "Domínguez",
    "Gil",
    "Vázquez",
    "Serrano",
    "Ramos",
    "Ortega",
)
ENGLISH_FIRST: Final = (
    "Olivia",
    "Emily",
    "Charlotte",
    "Grace",
    "Sophie",
    "Hannah",
    "Chloe",
    "Amelia",
    "James",
    "Oliver",
    "Harry",
    "Thomas",
    "George",
    "Jack",
    "William",
    "Samuel",
    "Daniel",
    "Ethan",
)
ENGLISH_LAST: Final = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Evans",
    "Walker",
    "Wright",
    "Thompson",
    "Roberts",
    "Robinson",
    "Clarke",
    "Hughes",
    "Hall",
    "Green",
)
SPANISH_CITIES: Final = (
    ("Madrid", "28009"),
    ("Barcelona", "08013"),
    ("Valencia", "46004"),
    ("Sevilla", "41003"),
    ("Bilbao", "48001"),
    ("Zaragoza", "50001"),
    ("Málaga", "29005"),
    ("Granada", "18009"),
    ("Salamanca", "37002"),
    ("A Coruña", "15003"),
    ("Murcia", "30001"),
    ("Valladolid", "47001"),
)
ENGLISH_CITIES: Final = (
    ("London", "GB"),
    ("Manchester", "GB"),
    ("Dublin", "IE"),
    ("Edinburgh", "GB"),
    ("Bristol", "GB"),
    ("Cork", "IE"),
)
STREETS: Final = (
    "Calle Mayor",
    "Calle de Alcalá",
    "Avenida de la Constitución",
    "Calle Real",
    "Paseo de Gracia",
    "Calle San Fernando",
    "Gran Vía",
    "Calle del Carmen",
    "Rúa Nova",
)
DOMAINS: Final = ("example.com", "example.net", "example.org")


def make_contacts(rng: random.Random, server_id: int, count: int) -> list[Contact]:
    """`count` distinct people, about seven in ten Spanish (es) and the rest English (en)."""
    made: dict[str, Contact] = {}
    while len(made) < count:
        spanish = rng.random() < 0.7
        first = rng.choice(SPANISH_FIRST if spanish else ENGLISH_FIRST)
        last = rng.choice(SPANISH_LAST if spanish else ENGLISH_LAST)
        if spanish:
            second = rng.choice(SPANISH_LAST)
            last = f"{last} {second}" if second != last else last
        email = (
            f"{_local(first)}.{_local(last.split()[0])}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}"
        )
        if email in made:
            continue
        made[email] = _contact(rng, server_id, email, first, last, spanish, len(made))
    return list(made.values())


def _contact(
    rng: random.Random, server_id: int, email: str, first: str, last: str, spanish: bool, n: int
) -> Contact:
    city, code = rng.choice(SPANISH_CITIES if spanish else ENGLISH_CITIES)
    street = f"{rng.choice(STREETS)} {rng.randint(1, 180)}"
    attributes: dict[str, object] = {"customer_since": str(rng.randint(2017, 2026))}
    if rng.random() < 0.2:
        attributes["promo_code"] = f"OLIVAR{rng.randint(10, 30)}"
    return Contact(
        server_id=server_id,
        email=email,
        first_name=first,
        last_name=last,
        locale="es" if spanish else "en",
        country="ES" if spanish else code,
        city=city,
        postal_address=f"{street}, {code} {city}" if spanish else f"{street}, {city}",
        member_number=f"S-{10000 + n}",
        external_id=f"cus_{rng.getrandbits(40):010x}",
        attributes=attributes,
    )


def _local(name: str) -> str:
    plain = name.lower()
    for accented, bare in zip("áéíóúñü", "aeiounu", strict=True):
        plain = plain.replace(accented, bare)
    return plain


@dataclass(frozen=True, slots=True)
class Receiver:
    """A receiving mail system: its MX host and address, and how it words its answers."""

    host: str
    ip: str
    accepted: str


# Each reserved domain answers like one of the big mailbox providers does (addresses from the
# documentation ranges of RFC 5737).
RECEIVERS: Final = {
    "example.com": Receiver(
        "mx1.example.com", "192.0.2.25", "2.0.0 OK  {stamp} {queue}si.{n} - gsmtp"
    ),
    "example.net": Receiver(
        "example-net.mail.protection.example.net",
        "198.51.100.14",
        "2.6.0 <{message_id}@tienda.example> [InternalId={n}] Queued mail for delivery",
    ),
    "example.org": Receiver("mx.example.org", "203.0.113.7", "2.0.0 Ok: queued as {queue}"),
}

# A first attempt that a receiving server puts off: greylisting, rate limits, a busy server.
DEFERRALS: Final = (
    SMTPReply(451, "4.7.1 Greylisting in action, please come back later"),
    SMTPReply(421, "4.7.0 Try again later, closing connection. (EHLO) - gsmtp"),
    SMTPReply(
        450,
        "4.2.1 The user you are trying to contact is receiving mail at a rate "
        "that prevents additional messages from being delivered.",
    ),
    SMTPReply(421, "4.3.2 Service not available, closing transmission channel"),
)
# Permanent failures as receiving servers word them (RFC 3463 enhanced codes).
BOUNCES: Final = (
    SMTPReply(
        550,
        "5.1.1 The email account that you tried to reach does not exist. "
        "Please try double-checking the recipient's email address for typos.",
    ),
    SMTPReply(
        550,
        "5.1.1 <{recipient}>: Recipient address rejected: User unknown in virtual mailbox table",
    ),
    SMTPReply(
        550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
    ),
    SMTPReply(552, "5.2.2 The email account that you tried to reach is over quota."),
    SMTPReply(
        554,
        "5.7.1 Service unavailable; client host [198.51.100.80] blocked using zen.spamhaus.example",
    ),
)

# User agents as they reach the open pixel and the click redirect.
OPEN_AGENTS: Final = (
    # Gmail fetches images through its proxy: the reader's device is hidden.
    (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        30,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
        22,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        12,
    ),
    ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17231; Pro)", 10),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0",
        8,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.6422.165 Mobile Safari/537.36",
        8,
    ),
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", 4),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.11.0", 3),
)
CLICK_AGENTS: Final = (
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        35,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Safari/537.36",
        30,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.6422.165 Mobile Safari/537.36",
        20,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        15,
    ),
)
