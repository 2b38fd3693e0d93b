"""Templates through the real command and postmarker; the starter library as files in git."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path

import pytest
from postmarker.core import PostmarkClient

from harness import Misiva
from misiva.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow

LAYOUT = {
    "Name": "Marca",
    "Alias": "marca",
    "TemplateType": "Layout",
    "HtmlBody": (
        "<html><head><style>.pie { color: #555555; font-size: 12px; }</style></head>"
        '<body>{{{ @content }}}<p class="pie">{{ server.name }}</p></body></html>'
    ),
    "TextBody": "{{{ @content }}}\n-- {{ server.name }}",
}


def _parsed(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def _body(message: email.message.EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    text: str = part.get_content()
    return text


def test_postmarker_layout_template_validate_send_and_batch(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva = misiva_factory(routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none")
    token, _ = misiva.setup_tenant()
    misiva.serve()
    client = PostmarkClient(server_token=token, root_api_url=f"{misiva.url}/")
    client.templates.call("POST", "/templates", data=LAYOUT)
    template = client.templates.create(
        Name="Reset",
        Alias="reset",
        Subject="Restablece tu contraseña, {{ contact.first_name }}",
        HtmlBody='<p>Hola {{ contact.first_name }}, <a href="{{ reset_url }}">restablece</a>.</p>',
    )
    client.templates.call("PUT", "/templates/reset", data={"LayoutTemplate": "marca"})
    check = client.templates.validate(
        Subject="Hola {{ name }}", HtmlBody="<b>{{ name }}</b>", TestRenderModel={"name": "Ana"}
    )
    assert check["AllContentIsValid"] is True
    client.call(
        "POST", "/contacts", data={"Email": "ana@example.com", "FirstName": "Ana", "Locale": "es"}
    )
    single = client.emails.send_with_template(
        TemplateId=template.TemplateId,
        TemplateModel={"reset_url": "https://shop.test/r/1"},
        From="hola@shop.test",
        To="ana@example.com",
    )
    assert single["ErrorCode"] == 0
    batch = client.emails.send_template_batch(
        {
            "TemplateAlias": "reset",
            "TemplateModel": {"reset_url": "https://shop.test/r/2"},
            "From": "hola@shop.test",
            "To": "ana@example.com",
        },
    )
    assert [r["ErrorCode"] for r in batch] == [0]
    assert sink.wait_for(2, timeout=20)
    # Both are delivered at once, in either order: look at the single send's.
    first = next(
        parsed
        for parsed in (_parsed(m.data) for m in sink.messages)
        if "r/1" in _body(parsed, "plain")
    )
    assert first["Subject"] == "Restablece tu contraseña, Ana"
    html = _body(first, "html")
    assert "Hola Ana" in html and "https://shop.test/r/" in html
    assert "color: #555555" in html.replace("color:#555555", "color: #555555")
    # No TextBody in the template: the text part is derived from the whole HTML, layout included.
    text = _body(first, "plain")
    assert "Hola Ana, restablece (https://shop.test/r/1)" in text and "shop" in text


def test_starter_library_pull_push_is_a_no_op_and_an_edit_is_one_version(
    misiva_factory: Callable[..., Misiva], tmp_path: Path
) -> None:
    misiva = misiva_factory()
    misiva.setup_tenant()
    installed = misiva.cli("templates", "install-starter", "--server", "shop").stdout
    assert "13 template(s) changed" in installed
    folder = tmp_path / "templates"
    misiva.cli("templates", "pull", str(folder), "--server", "shop")
    assert (folder / "order-confirmation" / "es" / "body.html").is_file()
    again = misiva.cli("templates", "push", str(folder), "--server", "shop").stdout
    assert "0 template(s) changed, 13 unchanged" in again
    subject = folder / "password-reset" / "es" / "subject.txt"
    subject.write_text("Cambia tu contraseña", encoding="utf-8")
    dry = misiva.cli("templates", "push", str(folder), "--server", "shop", "--dry-run").stdout
    assert "would update  password-reset" in dry
    pushed = misiva.cli("templates", "push", str(folder), "--server", "shop").stdout
    assert "update  password-reset -> version 2" in pushed and "1 template(s) changed" in pushed
