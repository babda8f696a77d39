"""Errors that reach the operator as one clear line: what is wrong, what to do."""


class CoachError(Exception):
    """Raised for a problem the user of the command line can fix; printed without a traceback."""
