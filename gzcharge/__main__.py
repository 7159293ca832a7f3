"""``python -m gzcharge`` runs the command-line interface."""

from gzcharge.cli import main

main()
