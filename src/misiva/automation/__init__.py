"""Event-triggered automation: accept the events applications report, evaluate the triggers
marketing owns, and schedule the messages they fire (released by ingest.scheduled)."""
