"""`python -m probe` runs the command line."""

from probe.cli import main

main()
