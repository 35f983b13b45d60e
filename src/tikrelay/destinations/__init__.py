"""Where posts go: the Telegram sender and its flood control."""
