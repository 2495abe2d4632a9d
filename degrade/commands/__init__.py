"""CLI subcommands, one module each: ``add_arguments(parser)`` and ``run(args) -> int``.

``degrade.cli`` imports the module of the chosen subcommand only, so ``degrade --help``
stays fast. A module also defines ``HELP`` (one line for the command list).
"""
