"""The traffic exchange: platforms, placements, campaigns, tracked jumps, passcodes, postbacks."""
