"""One module per ``billing-reports`` subcommand; each stays thin and calls the core."""
