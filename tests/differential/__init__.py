"""Differential tests: probe's findings compared with another scanner's on the same lab servers."""
