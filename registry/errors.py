"""User-facing errors: one exception family, turned into a one-line message by the CLI.

Anything a user can cause (a recipe typo, a corrupt file, a wrong checkpoint) raises a
``UserError`` subclass whose message names the file, key or value and what was expected.
``tools`` catch ``UserError`` in one place (``registry.cli.main_guard``) and print it
without a traceback unless ``--debug`` is given.
"""


class UserError(Exception):
    """An error caused by input the user controls; its message is the whole story."""


class RecipeError(UserError):
    """A recipe is wrong: unknown key or name, bad type, missing value, bad override.

    Not a ``KeyError``: an ``except KeyError`` around a dict lookup must not swallow a
    recipe mistake raised further down, and ``str()`` of a KeyError quotes its message.
    """


class UsageError(UserError):
    """A command-line flag or argument is wrong (a value out of range, a missing argument)."""


class DataError(UserError, ValueError):
    """A dataset folder or file is missing, corrupt or inconsistent."""


class CheckpointError(UserError, ValueError):
    """A checkpoint is missing, unreadable or does not match the recipe."""


class RunError(UserError, RuntimeError):
    """A run cannot start or must stop (NaN loss, run dir not writable, ...)."""
