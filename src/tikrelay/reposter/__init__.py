"""The reposter: creators polled, their new posts delivered to Telegram exactly once."""
