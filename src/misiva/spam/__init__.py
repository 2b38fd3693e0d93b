"""Spam scoring with SpamAssassin: the spamd client (the one door to aiospamc) and its report."""
