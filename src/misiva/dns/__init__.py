"""DNS lookups for delivery: MX hosts and addresses, cached by TTL (the one door to dnspython)."""
