"""Where posts come from: TikTok through yt-dlp."""
