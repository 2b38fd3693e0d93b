"""Scheduler stage: periodic tasks (retention today), each a bounded run_once()."""
