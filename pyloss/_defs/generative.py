"""Loss definitions of the generative family."""
