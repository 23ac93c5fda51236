"""Models of this app arrive with its issue (see the README roadmap)."""
