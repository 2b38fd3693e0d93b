"""Shipped test helpers: an SMTP sink with scripted replies, a local DNS server, TLS material."""
