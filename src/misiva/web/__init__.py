"""The web UI: server-rendered pages under /ui for marketers, developers and operators."""
