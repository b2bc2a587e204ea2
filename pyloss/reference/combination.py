"""Reference (combination family)."""
