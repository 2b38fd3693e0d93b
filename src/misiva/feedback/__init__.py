"""Feedback stage: what recipients and their servers tell us back (opens, clicks, bounces)."""
