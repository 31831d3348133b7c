"""Experiments: what to run (scenarios, design points, replicates, posterior draws), the engine, executors, store."""
