"""Events: the one write path for "something happened" to a message."""
