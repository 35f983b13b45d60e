"""``python -m tikrelay`` runs the command line."""

from tikrelay.cli.app import main

main()
