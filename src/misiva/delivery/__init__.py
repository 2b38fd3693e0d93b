"""Delivery stage: claim queued messages, sign, route and send them over SMTP, record outcomes."""
