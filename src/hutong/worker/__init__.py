"""Background jobs: outbox delivery, passcode renewal, click-log compaction, retention."""
