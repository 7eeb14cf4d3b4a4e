"""Errors a push reports to its user as they are, without a traceback's jargon."""


class PushError(Exception):
    """A push that cannot run; the message says how to fix it."""


class NoActorError(PushError):
    """No user can be recorded as the creator of pushed records (the admin links to adding one)."""
