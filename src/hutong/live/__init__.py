"""Live-stream commerce: streamers, live sessions and what they sell, and the penalty record
that streamer trust is built on."""
