"""Tests of the incident model, store, history and API keys (SQLite and PostgreSQL)."""
