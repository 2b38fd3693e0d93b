"""Authoring stage: templates and layouts, their versions, validation, files and the starter set."""
