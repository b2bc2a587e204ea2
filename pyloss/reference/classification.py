"""Reference (classification family)."""
