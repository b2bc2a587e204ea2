"""Loss definitions of the combination family."""
