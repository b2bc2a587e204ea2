"""Reference (embedding family)."""
