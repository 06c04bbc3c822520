"""`python -m remit.cli` runs the `remit` command."""

from remit.cli.entry import main

main()
