"""The generic job engine: worker loop, runner, completer, kinds registry, schedules, job context
and recovery. It knows nothing of TikTok or Telegram."""
