"""Content lint: rules over a rendered email and its template that predict delivery and trust
problems (missing text, alt texts, risky links, missing unsubscribe...)."""
