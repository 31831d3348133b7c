"""Analyses over the runs table: comparison and economics, decomposition, power, calibration, sensitivity."""
