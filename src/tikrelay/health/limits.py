"""How long each check may wait, so that a health check ends in seconds even when every peer is
down."""

NETWORK_TIMEOUT = 5.0  # one Telegram call, one TikTok request, one database connection
CONNECT_TIMEOUT = 3.0  # a TCP connect to a proxy
FFMPEG_TIMEOUT = 5.0  # ``ffmpeg -version``
