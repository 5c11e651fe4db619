"""Bandit environments: linear contextual and multi-armed (exact per-step regret)."""
