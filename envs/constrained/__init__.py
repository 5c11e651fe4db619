"""Bandits with stage-wise constraints: constrained multi-armed, in-expectation linear and safe linear."""
