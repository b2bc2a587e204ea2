"""Reference (generative family)."""
