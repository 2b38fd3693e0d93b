"""Misiva: self-hosted transactional email with a Postmark-compatible API."""
