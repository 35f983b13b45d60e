"""Captions: templates, Telegram HTML escaping, safe length limits."""
