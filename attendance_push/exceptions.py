"""Errors a push reports to its user as they are, without a traceback's jargon."""


class PushError(Exception):
    """A push that cannot run; the message says how to fix it."""


class NoActorError(PushError):
    """No user can be recorded as the creator of pushed records (the admin links to adding one).

    `actor` is the username ATTENDANCE_PUSH['ACTOR'] names, or None when the push looked for a superuser.
    """

    def __init__(self, message: str, *, actor: str | None = None) -> None:
        super().__init__(message)
        self.actor = actor


class DayTooOldError(PushError):
    """A day further back than MAX_PAST_DAYS; the admin words it for the office, without the setting's name."""

    def __init__(self, message: str, *, day, oldest) -> None:
        super().__init__(message)
        self.day = day
        self.oldest = oldest
