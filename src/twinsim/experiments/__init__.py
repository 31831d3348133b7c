"""Experiments: what to run (scenarios, design points, replicates, posterior draws), the engine, executors, store."""

from twinsim.experiments.panels import read_panels

__all__ = ["read_panels"]
