"""A demo installation: a Spanish shop with contacts, users and several days of realistic mail.

`misiva demo seed` fills an empty database with it, for trying the UI and for the
documentation's screenshots. Every address is on a reserved domain (RFC 2606), so nothing the
demo holds can reach a real mailbox.
"""
