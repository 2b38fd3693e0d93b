"""The SMTP submission door: apps that speak SMTP send through the same pipeline as the API."""
