"""The Postmark-compatible HTTP door: thin routes, pydantic schemas, the error map."""
