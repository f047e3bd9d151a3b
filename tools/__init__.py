"""The command-line tools: each ``tools/<name>.py`` is a script in a checkout and the
``ignite-zoo <name>`` subcommand of an installed package (see ``tools.cli``)."""
