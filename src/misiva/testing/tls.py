"""Self-signed TLS material for test servers on 127.0.0.1 and localhost."""

from __future__ import annotations

import os
import ssl

from misiva.smtp.certificate import self_signed_files

__all__ = ["client_context_trusting", "self_signed_context", "self_signed_files"]


def self_signed_context(directory: str | os.PathLike[str]) -> ssl.SSLContext:
    """A server-side SSLContext with a fresh self-signed certificate for 127.0.0.1/localhost."""
    cert_path, key_path = self_signed_files(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def client_context_trusting(cert_path: str | os.PathLike[str]) -> ssl.SSLContext:
    """A client-side SSLContext that verifies servers against one self-signed certificate."""
    return ssl.create_default_context(cafile=os.fspath(cert_path))
