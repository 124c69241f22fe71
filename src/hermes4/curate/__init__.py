"""Seed curation: load passages, exact and semantic dedup, prefer newer, LLM quality filter."""
