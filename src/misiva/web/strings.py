"""The UI's texts in English and Spanish, chosen per user (the login page by the browser)."""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Misiva",
        "sign_in": "Sign in",
        "email": "Email",
        "password": "Password",
        "wrong": "That email and password do not match an account.",
        "locked": "Too many failed attempts from your address. Try again in a few minutes.",
        "expired_form": "The form expired. Please try again.",
        "sign_out": "Sign out",
        "servers": "Servers",
        "no_servers": "You have no servers yet.",
        "signed_in_as": "Signed in as",
        "role": "Role",
        "messages": "Messages",
        "queued": "queued",
        "delivered": "delivered",
        "bounced": "bounced",
        "deferred": "deferred",
        "tokens": "API tokens",
        "token_made": "token made",
        "tokens_hidden": "Only developers and owners see API tokens.",
        "activity": "Activity",
        "search": "Search",
        "recipient": "Recipient",
        "subject": "Subject",
        "tag": "Tag",
        "status": "Status",
        "accepted": "Accepted",
        "no_messages": "No messages match.",
        "timeline": "Timeline",
        "rendered": "The message as sent",
        "text_part": "Text part",
        "raw": "Raw source",
        "content_purged": "The content was purged after the retention period.",
        "back": "Back",
        "found": "messages found",
    },
    "es": {
        "title": "Misiva",
        "sign_in": "Entrar",
        "email": "Correo electrónico",
        "password": "Contraseña",
        "wrong": "Ese correo y esa contraseña no corresponden a ninguna cuenta.",
        "locked": (
            "Demasiados intentos fallidos desde tu dirección. Vuelve a probar en unos minutos."
        ),
        "expired_form": "El formulario ha caducado. Vuelve a intentarlo.",
        "sign_out": "Salir",
        "servers": "Servidores",
        "no_servers": "Todavía no tienes servidores.",
        "signed_in_as": "Has entrado como",
        "role": "Rol",
        "messages": "Mensajes",
        "queued": "en cola",
        "delivered": "entregados",
        "bounced": "rebotados",
        "deferred": "aplazados",
        "tokens": "Tokens de la API",
        "token_made": "token creado",
        "tokens_hidden": "Solo los desarrolladores y los propietarios ven los tokens de la API.",
        "activity": "Actividad",
        "search": "Buscar",
        "recipient": "Destinatario",
        "subject": "Asunto",
        "tag": "Etiqueta",
        "status": "Estado",
        "accepted": "Aceptado",
        "no_messages": "Ningún mensaje coincide.",
        "timeline": "Cronología",
        "rendered": "El mensaje tal como se envió",
        "text_part": "Parte de texto",
        "raw": "Código fuente",
        "content_purged": "El contenido se borró al cumplirse el periodo de retención.",
        "back": "Volver",
        "found": "mensajes encontrados",
    },
}


def language(tag: str | None) -> str:
    """ "es" for any Spanish tag (es, es-MX, an Accept-Language list led by es), else "en"."""
    return "es" if (tag or "").strip().lower()[:2] == "es" else "en"
