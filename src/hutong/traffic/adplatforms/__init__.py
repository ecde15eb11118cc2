"""The content platforms' own ad-tracking protocols (docs/adplatforms.md)."""
