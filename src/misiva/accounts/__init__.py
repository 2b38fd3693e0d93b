"""Accounts stage: servers, their tokens and streams, and their sending domains."""
