"""The one composition root: the program built from settings; what the CLI, bot and web call."""
