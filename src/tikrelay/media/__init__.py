"""ffmpeg work, media inspection, images and the media cache."""
