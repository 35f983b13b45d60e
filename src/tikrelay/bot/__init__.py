"""The interactive Telegram bot: people send links, the bot answers with the media.

Updates are taken from Telegram (``intake``) into ``bot_update`` jobs before the next getUpdates
confirms them; each job routes its update through python-telegram-bot's ``Application``
(``router``), whose handlers only reply or enqueue; a link becomes a ``request`` job that runs
the reposter's deliver stages with the asking chat as destination (``requests``)."""
