"""`python -m raysweep` runs the command line."""

from raysweep.cli import main

main()
