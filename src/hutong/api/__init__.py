"""The HTTP edge shared by every capability: errors, request ids, authentication."""
