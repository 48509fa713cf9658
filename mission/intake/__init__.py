"""Incident intake from outside the unit: integration keys, the Telegram bot, the public page."""
