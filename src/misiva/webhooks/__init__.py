"""Webhooks: Postmark-shaped payloads per event type, signed, delivered from a durable outbox."""
