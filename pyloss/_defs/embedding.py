"""Loss definitions of the embedding family."""
