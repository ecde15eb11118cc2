"""The web console: server-rendered pages for every kind of tenant, zh and en."""
