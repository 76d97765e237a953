"""Offline training and evaluation of routers. Never imported by serving code (import-linter checks)."""
