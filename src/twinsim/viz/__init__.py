"""Figures (matplotlib and seaborn, drawn on request, never at import)."""
