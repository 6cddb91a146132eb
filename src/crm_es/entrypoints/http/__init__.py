"""The HTTP edge: routers translate requests into commands and queries, nothing more."""
