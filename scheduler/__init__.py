"""The APScheduler service: crawls, re-matching, digests and reminders on time."""
