"""The texts of the public subscription pages, one dictionary per language: Spanish and English."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Placeholders ({stream}, {email}, {support}, {brand}) are filled by the renderer, which escapes
# the values. A sentence that names the stream and the address comes in three forms: `key` (both
# known), `key_stream` (no address) and `key_plain` (neither), so that a page never shows an
# empty «» or a dangling "at".
_ES: dict[str, str] = {
    # Shared by several pages.
    "preferences_link": "Elegir qué correos recibo",
    "footer_support": "¿Tienes alguna duda? Escríbenos a {support}.",
    "website_button": "Ir a {brand}",
    # UNSUBSCRIBE_CONFIRM
    "unsubscribe_confirm_title": "¿Quieres darte de baja?",
    "unsubscribe_confirm_body": "Dejarás de recibir los correos de «{stream}» en {email}.",
    "unsubscribe_confirm_body_stream": "Dejarás de recibir los correos de «{stream}».",
    "unsubscribe_confirm_body_plain": "Dejarás de recibir estos correos.",
    "unsubscribe_button": "Darme de baja",
    "unsubscribe_confirm_alternative": "¿Prefieres recibir solo algunos correos?",
    # UNSUBSCRIBED
    "unsubscribed_title": "Te has dado de baja",
    "unsubscribed_body": "No volverás a recibir correos de «{stream}» en {email}.",
    "unsubscribed_body_stream": "No volverás a recibir correos de «{stream}».",
    "unsubscribed_body_plain": "No volverás a recibir estos correos.",
    "unsubscribed_note": (
        "Si tienes una cuenta con nosotros, seguirás recibiendo los avisos imprescindibles "
        "sobre ella."
    ),
    "resubscribe_question": "¿Ha sido sin querer?",
    "resubscribe_button": "Volver a suscribirme",
    # PREFERENCES
    "preferences_title": "Tus preferencias de correo",
    "preferences_intro": "Elige qué correos quieres recibir en {email}.",
    "preferences_intro_plain": "Elige qué correos quieres recibir.",
    "preferences_legend": "Tus suscripciones",
    "preferences_empty": "Ahora mismo no hay nada que elegir: no tienes suscripciones que cambiar.",
    "preferences_save": "Guardar preferencias",
    "preferences_all_off": "Darme de baja de todo",
    "highlight_subscribed": "Desmarca la casilla para darte de baja.",
    "highlight_unsubscribed": "Marca la casilla para volver a suscribirte.",
    # PREFERENCES_SAVED
    "preferences_saved_title": "Preferencias guardadas",
    "preferences_saved_intro": "Así quedan tus suscripciones en {email}:",
    "preferences_saved_intro_plain": "Así quedan tus suscripciones:",
    "preferences_saved_empty": "No tienes ninguna suscripción.",
    "state_on": "Suscripción activa",
    "state_off": "Sin suscripción",
    "preferences_back": "Volver a mis preferencias",
    # OPT_IN_CONFIRMED
    "opt_in_title": "¡Suscripción confirmada!",
    "opt_in_body": "A partir de ahora recibirás los correos de «{stream}» en {email}.",
    "opt_in_body_stream": "A partir de ahora recibirás los correos de «{stream}».",
    "opt_in_body_plain": "A partir de ahora recibirás estos correos.",
    "opt_in_already_title": "Tu suscripción ya estaba confirmada",
    "opt_in_already_body": (
        "Ya recibes los correos de «{stream}» en {email}. No tienes que hacer nada más."
    ),
    "opt_in_already_body_stream": (
        "Ya recibes los correos de «{stream}». No tienes que hacer nada más."
    ),
    "opt_in_already_body_plain": "Ya recibes estos correos. No tienes que hacer nada más.",
    "opt_in_thanks": "¡Gracias por suscribirte!",
    # LINK_INVALID
    "link_invalid_title": "Este enlace no es válido",
    "link_invalid_body": (
        "Puede que esté incompleto o que se haya modificado al copiarlo. No hemos cambiado nada."
    ),
    "link_invalid_hint": "Prueba a abrirlo de nuevo desde el correo que te enviamos.",
    # LINK_EXPIRED
    "link_expired_title": "Este enlace ha caducado",
    "link_expired_body": (
        "Vuelve a suscribirte para recibir un enlace nuevo. No hemos cambiado nada."
    ),
    "link_expired_hint": (
        "Por seguridad, los enlaces de confirmación solo funcionan durante un tiempo."
    ),
    "subscribe_again_button": "Volver a suscribirme",
}

_EN: dict[str, str] = {
    # Shared by several pages.
    "preferences_link": "Choose which emails I get",
    "footer_support": "Any questions? Write to us at {support}.",
    "website_button": "Go to {brand}",
    # UNSUBSCRIBE_CONFIRM
    "unsubscribe_confirm_title": "Do you want to unsubscribe?",
    "unsubscribe_confirm_body": "You'll stop getting “{stream}” emails at {email}.",
    "unsubscribe_confirm_body_stream": "You'll stop getting “{stream}” emails.",
    "unsubscribe_confirm_body_plain": "You'll stop getting these emails.",
    "unsubscribe_button": "Unsubscribe",
    "unsubscribe_confirm_alternative": "Would you rather get only some of our emails?",
    # UNSUBSCRIBED
    "unsubscribed_title": "You've been unsubscribed",
    "unsubscribed_body": "You won't get any more “{stream}” emails at {email}.",
    "unsubscribed_body_stream": "You won't get any more “{stream}” emails.",
    "unsubscribed_body_plain": "You won't get any more of these emails.",
    "unsubscribed_note": (
        "If you have an account with us, you'll still get the essential messages about it."
    ),
    "resubscribe_question": "Did you do that by mistake?",
    "resubscribe_button": "Subscribe again",
    # PREFERENCES
    "preferences_title": "Your email preferences",
    "preferences_intro": "Choose which emails you'd like to get at {email}.",
    "preferences_intro_plain": "Choose which emails you'd like to get.",
    "preferences_legend": "Your subscriptions",
    "preferences_empty": (
        "There's nothing to choose right now: you have no subscriptions to change."
    ),
    "preferences_save": "Save preferences",
    "preferences_all_off": "Unsubscribe from all",
    "highlight_subscribed": "Untick the box to unsubscribe.",
    "highlight_unsubscribed": "Tick the box to subscribe again.",
    # PREFERENCES_SAVED
    "preferences_saved_title": "Preferences saved",
    "preferences_saved_intro": "Here are your subscriptions at {email} now:",
    "preferences_saved_intro_plain": "Here are your subscriptions now:",
    "preferences_saved_empty": "You have no subscriptions.",
    "state_on": "Subscribed",
    "state_off": "Not subscribed",
    "preferences_back": "Back to my preferences",
    # OPT_IN_CONFIRMED
    "opt_in_title": "Subscription confirmed!",
    "opt_in_body": "From now on you'll get “{stream}” emails at {email}.",
    "opt_in_body_stream": "From now on you'll get “{stream}” emails.",
    "opt_in_body_plain": "From now on you'll get these emails.",
    "opt_in_already_title": "You're already subscribed",
    "opt_in_already_body": (
        "You already get “{stream}” emails at {email}. There's nothing else you need to do."
    ),
    "opt_in_already_body_stream": (
        "You already get “{stream}” emails. There's nothing else you need to do."
    ),
    "opt_in_already_body_plain": "You already get these emails. There's nothing else to do.",
    "opt_in_thanks": "Thanks for subscribing!",
    # LINK_INVALID
    "link_invalid_title": "This link isn't valid",
    "link_invalid_body": (
        "It may be incomplete, or it may have changed when it was copied. "
        "We haven't changed anything."
    ),
    "link_invalid_hint": "Try opening it again from the email we sent you.",
    # LINK_EXPIRED
    "link_expired_title": "This link has expired",
    "link_expired_body": "Subscribe again to get a new link. We haven't changed anything.",
    "link_expired_hint": "For your security, confirmation links only work for a limited time.",
    "subscribe_again_button": "Subscribe again",
}

TEXTS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"es": MappingProxyType(_ES), "en": MappingProxyType(_EN)}
)
