"""The ``scaffolder`` commands, by group; :mod:`scaffolder.cli` is the entry point that joins them."""
