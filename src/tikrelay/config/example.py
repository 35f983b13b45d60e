"""The commented config ``tikrelay init`` writes. A test keeps it in step with the settings."""

from __future__ import annotations

EXAMPLE = """\
# tikrelay configuration. Every key is optional unless marked required; the values shown
# commented out are the defaults. Reference: docs/configuration.md
#
# The bot token is never written here: export TELEGRAM_BOT_TOKEN=... (from @BotFather).

# state_dir: ./tikrelay-data          # SQLite database and media cache (kept mode 0700)
# database_url: postgresql+psycopg://tikrelay@localhost/tikrelay   # default: SQLite in state_dir
# ffmpeg: /usr/bin/ffmpeg             # an executable or a command on PATH; default: bundled

telegram:
  api_url: https://api.telegram.org   # http(s)://host[:port]: or a local Bot API server
  local_mode: false                   # true for a local Bot API server (uploads up to 2000 MB)
  # admins: [123456789]               # user ids allowed the bot's admin commands
  # storage_chat_id: -1001234567890   # where the bot uploads media once for inline answers
  # bot_token: prefer the TELEGRAM_BOT_TOKEN environment variable (here: chmod 600 this file)
  # flood:                            # the pace kept; Telegram's guidance by default
  #   chat_per_second: 1.0
  #   chat_burst: 3
  #   group_per_minute: 20
  #   bot_per_second: 30

network:
  proxies: []                         # e.g. [http://user:pass@proxy:8080]; all TikTok traffic
                                      # schemes: http, https, socks5, socks5h, socks4, socks4a
  verify_tls: true                    # false disables certificate checks for TikTok traffic only
  # ca_bundle: /etc/ssl/extra-ca.pem  # extra CA certificates for TikTok traffic
  # cookies_file: ~/.config/tikrelay/cookies.txt   # Netscape format, chmod 600
  # tiktok_app_info: []               # <iid>/<app_name>/<app_version>/<manifest_app_version>/<aid>
  #                                   # of a TikTok app install: url: hashtags, sounds, effects
  # tiktok_api_hostname: api16-normal-c-useast1a.tiktokv.com   # the app's API host for those

delivery:
  downloads: 3                        # downloads at the same time
  # max_upload_mb: 50                 # default 50, or 2000 with telegram.local_mode (at most)
  # keep_media_hours: 24              # downloaded files go this long after the last delivery
  # cache_max_gb: 20                  # a size budget for downloaded files (default: none)

bot:
  enabled: true                       # tikrelay serve also answers people who write to the bot
  # group_errors: false               # in groups, say why a link failed
  # archive_to: vault                 # where /archive_on chats are archived (an archive's name)
  # webhook_url: https://bot.example.com/telegram   # updates by webhook instead of long polling
  # webhook_listen: 127.0.0.1:8443    # where the webhook listener takes them (behind your proxy)
  # limits:                           # what people may ask for
  #   active_per_user: 3
  #   per_user_per_hour: 30
  #   per_chat_per_hour: 120
  #   global_active: 50
  #   burst_messages: 8               # spam guard: more than 8 messages in burst_seconds…
  #   burst_seconds: 10
  #   pause_seconds: 60               # …and the person is not listened to for a minute
  #   max_download_mb: 500            # a bigger video is refused before it is downloaded

# web:                                # the REST API, /docs and /metrics (docs/web.md)
#   listen: "127.0.0.1:8080"          # written: tikrelay serve runs it too (web runs it anyway)
#   auth: token                       # the token: export TIKRELAY_WEB_TOKEN=...; none: only
#                                     # on a loopback address

destinations:
  channel:                            # a name of your choice
    telegram:
      chat_id: "@your_channel"        # required: @channelname or a numeric id like -1001234567890
      # topic_id: 7                   # a forum topic
      # oversize: compress            # over the upload limit: compress to fit, or skip
      # slideshow: album              # photo slideshows as album, video or both
      # hevc: false                   # true: HEVC (hvc1) videos are sent as they are
    # caption: "{{ text }}\\n\\n— @{{ author }}"   # Jinja2; see docs/captions.md
    # link: false                     # add a link to the original post
    # tz: Europe/Berlin               # its time zone (captions, schedule); default: the machine's
    # schedule:                       # when posts may go (docs/reposting.md#schedules)
    #   max_per_hour: 4               # rolling 60 minutes
    #   max_per_day: 20               # calendar day, in tz
    #   hours: "08:00-22:00"          # the end excluded
    #   days: [mon-fri]
    #   at: ["09:00", "14:00", "19:00"]   # fixed slots, one post each
    #   min_gap_minutes: 10
    #   catch_up: all                 # after downtime: all drips; digest lists them in one message
    #   catch_up_after_hours: 12      # how old a post may be and still go on its own
    # ai_caption:                     # captions by a language model; the template on failure
    #   base_url: https://api.openai.com/v1   # any OpenAI-compatible API
    #   model: gpt-4o-mini
    #   prompt: "Write a short caption for: {{ text }}"   # Jinja2, the caption's variables
    #   api_key_env: OPENAI_API_KEY   # the variable holding the key (never the key here)
    #   timeout_seconds: 30           # one attempt; then the template's caption
    # slideshow_audio: true           # send a slideshow's sound after its images
    # archive_to: vault               # also archive every post sent here (an archive's name)
  # vault:                            # an archive destination: a folder or object storage
  #   archive:
  #     path: ./tiktok-archive        # or url: s3://BUCKET/PREFIX (or az://CONTAINER/PREFIX)
  #     # endpoint_url: http://127.0.0.1:9000   # S3-compatible servers other than AWS
  #     # keep_days: 30               # delete archived posts after this many days
  # mirror:                           # another TikTok account (docs/publishing.md)
  #   tiktok:
  #     account: main                 # authorized with: tikrelay tiktok-auth main
  #     mode: inbox                   # inbox: a draft to finish in the app; direct: posted
  #     # privacy_level: SELF_ONLY    # direct: who sees it (default: the most private offered)
  #     # credit: true                # end the caption with 🎥 @author on TikTok

sources:
  - tiktok: "@tiktok"                 # required: @username or the profile URL
    to: [channel]                     # required: destination names
    # depth: 10                       # newest posts read per poll
    # backfill: 10                    # existing posts delivered on first sight (0: none)
    # every_minutes: 15               # poll interval of `tikrelay serve`
    # filters:                        # only these posts are delivered (decided once, for good)
    #   min_views: 1000               # at least this many views (inclusive)
    #   min_likes: 100
    #   max_age_days: 7               # created at most this many days ago
    #   kinds: [video, slideshow]
    #   min_duration: 5               # a video's length in seconds
    #   max_duration: 180
    #   min_height: 720               # a video's height in pixels
    #   include: [cats, "#kitten"]    # at least one of these words or #hashtags
    #   exclude: ["#ad", sponsored]   # none of these (whole words; case and accents ignored)

# notify:                             # failures that need a person, and a daily summary
#   telegram_chat_id: -1001234567890  # an admins' chat
#   email:                            # password: export TIKRELAY_SMTP_PASSWORD=...
#     smtp_url: "smtp://mail.example.com:587"   # smtps:// for TLS from the start
#     from: tikrelay@example.com
#     to: [you@example.com]
#     ca_bundle: /etc/ssl/mail-ca.pem # a private CA for the SMTP server
#   apprise: ["json://host:port/path"]   # any Apprise URL (a secret: it holds tokens)
#   daily_summary: "08:00"            # a summary every day at this time
#   tz: Europe/Berlin                 # of daily_summary and messages; default: the machine's
#   source_failing_hours: 24          # auth expired / extractor broken: told at once
#   disk_free_percent: 5              # tell when the state folder's disk has less free

# tiktok_app:                         # the TikTok developer app of tiktok destinations
#   client_key: YOUR_CLIENT_KEY
#   # client_secret: never in this file: export TIKRELAY_TIKTOK_APP__CLIENT_SECRET=...
#   # redirect_uri: http://127.0.0.1:3455/callback/   # as registered with the app
#   # api_url: https://open.tiktokapis.com
#   # auth_url: https://www.tiktok.com/v2/auth/authorize/

jobs:
  worker_concurrency: 4               # jobs one process runs at a time
  # poll_interval_seconds: 1.0
  # lease_seconds: 30
  # max_attempts: 5
  # timeout_seconds: 1800
  # retry_base_seconds: 30
  # retry_max_seconds: 3600
  # shutdown_grace_seconds: 30
  # drain_wait_seconds: 15
  # max_running: 10                   # across all workers
  # max_queue_length: 10000
  # keep_days: 7                      # completed jobs and their timelines, then deleted
  # keep_failed_days: 30              # failed and cancelled jobs
  # kinds:                            # per job kind, by its name
  #   deliver: {max_attempts: 5, timeout_seconds: 900, stage_timeouts: {DOWNLOAD: 300}}
  #   poll: {keep_days: 1}            # completed polls are kept a day (its own default)
"""
