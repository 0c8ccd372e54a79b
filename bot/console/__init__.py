"""The operator console: server-rendered pages under /admin (see web.py)."""
