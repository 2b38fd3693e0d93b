"""Render time per message for the starter order confirmation (compile once, render many).

    .venv/bin/python bench/render.py [--messages 5000]

Prints compile time (paid once per template version), then p50/p99 per message of the
render alone and of render + MIME assembly, in Spanish and English.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from datetime import UTC, datetime

from misiva.authoring.files import read_folder
from misiva.domain.message import Address, SendRequest
from misiva.mail.mime import build_mime
from misiva.render.compile import compile_template
from misiva.render.render import render
from misiva.starter import starter_dir


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    library = {t.alias: t for t in read_folder(starter_dir() / "templates")}
    order, layout = library["order-confirmation"], library["basic"]
    print(
        f"{'locale':<7} {'compile ms':>10} {'render p50':>11} {'render p99':>11} "
        f"{'+MIME p50':>10} {'+MIME p99':>10}"
    )
    for locale in ("es", "en"):
        began = time.perf_counter()
        compiled = compile_template(order.variants[locale], layout.variants[locale])
        compile_ms = (time.perf_counter() - began) * 1000
        renders, with_mime = [], []
        for n in range(args.messages):
            model = copy.deepcopy(order.test_model or {})
            model["order"]["number"] = f"A-{n}"
            model |= {
                "contact": {"email": f"c{n}@example.com", "first_name": f"Cliente {n}"},
                "server": {"name": "Tienda Demo", "brand": {"company_name": "Tienda Demo"}},
                "message": {"id": f"m-{n}", "stream": "outbound", "locale": locale},
            }
            t0 = time.perf_counter()
            rendered = render(compiled, model, locale=locale)
            t1 = time.perf_counter()
            build_mime(
                SendRequest(
                    sender=Address("hola@shop.test", "Tienda Demo"),
                    to=(Address(f"c{n}@example.com"),),
                    cc=(),
                    bcc=(),
                    subject=rendered.subject,
                    html_body=rendered.html_body,
                    text_body=rendered.text_body,
                    reply_to=(),
                    headers=(),
                    tag=None,
                    metadata={},
                    attachments=(),
                    stream="outbound",
                    track_opens=None,
                    track_links=None,
                    to_given=f"c{n}@example.com",
                ),
                message_id=f"m-{n}",
                domain="shop.test",
                date=datetime.now(UTC),
            )
            t2 = time.perf_counter()
            renders.append((t1 - t0) * 1000)
            with_mime.append((t2 - t0) * 1000)
        print(
            f"{locale:<7} {compile_ms:>10.1f} {statistics.median(renders):>11.3f} "
            f"{percentile(renders, 0.99):>11.3f} {statistics.median(with_mime):>10.3f} "
            f"{percentile(with_mime, 0.99):>10.3f}"
        )
    print(f"({args.messages} messages per locale; times in ms)")


if __name__ == "__main__":
    main()
