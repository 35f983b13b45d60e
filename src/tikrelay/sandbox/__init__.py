"""Offline world: TikTok and Telegram Bot API emulators and generated media fixtures."""
