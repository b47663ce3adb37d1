"""The one error type users see: a message, never a traceback."""


class IjdpError(Exception):
    """A problem the user can fix; str() is the whole message."""

    exit_status = 2


class ValidationFailed(IjdpError):
    exit_status = 1
