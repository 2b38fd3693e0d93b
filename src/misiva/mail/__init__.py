"""Email mechanics, bytes in and out: addresses, MIME assembly and DKIM."""
