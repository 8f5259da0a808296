"""The command line: one module per subcommand; ``main.py`` parses and dispatches."""
