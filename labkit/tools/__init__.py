"""Small project tools run by the Makefile (not part of the lab itself)."""
