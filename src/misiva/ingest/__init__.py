"""Ingest stage: accept a send, validate it, and queue it durably in one commit."""
