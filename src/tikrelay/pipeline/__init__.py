"""Per-job stages, scheduler, worker loop, retry policy and recovery."""
