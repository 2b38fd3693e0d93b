"""Open and click tracking as pure functions: signed URL tokens, body rewriting, user agents."""
