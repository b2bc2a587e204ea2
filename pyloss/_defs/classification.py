"""Loss definitions of the classification family."""
