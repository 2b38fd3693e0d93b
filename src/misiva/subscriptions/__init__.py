"""Subscriptions: double opt-in, one-click unsubscribe, the preference centre, their notices."""
