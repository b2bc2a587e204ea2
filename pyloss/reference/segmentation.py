"""Reference (segmentation family)."""
