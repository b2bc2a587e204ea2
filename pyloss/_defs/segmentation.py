"""Loss definitions of the segmentation family."""
