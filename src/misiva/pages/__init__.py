"""The branded, localised HTML pages a recipient sees after following a subscription link."""

from __future__ import annotations

from misiva.pages.render import Page, PageContext, Topic, page_language, render_page

__all__ = ["Page", "PageContext", "Topic", "page_language", "render_page"]
