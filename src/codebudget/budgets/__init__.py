"""Budgets: axes and thresholds, post-hoc truncation of stored runs, cost models, PER and frontiers."""
