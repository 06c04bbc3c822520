"""`python -m remit.cli` runs the `remit` command."""

from remit.cli.app import main

main()
