"""Errors the CLI prints as one clear message, without a traceback."""


class UserError(Exception):
    """A problem the user can fix (bad config, missing file, unreachable bucket)."""
