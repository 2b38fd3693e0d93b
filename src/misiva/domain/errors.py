"""Domain errors: each carries a Postmark ErrorCode and a human message; doors translate them."""

from __future__ import annotations

from misiva.domain.enums import ErrorCode


class MisivaError(Exception):
    """Base of every error Misiva reports to a caller rather than crashing on."""

    error_code: int = ErrorCode.INVALID_REQUEST

    def __init__(self, message: str, error_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code


class InvalidRequest(MisivaError):
    """A send or command whose input is malformed (Postmark's 300)."""

    error_code = ErrorCode.INVALID_REQUEST


class Unauthorized(MisivaError):
    """A missing or wrong server token (Postmark's 10, HTTP 401)."""

    error_code = ErrorCode.BAD_TOKEN


class SenderNotAllowed(MisivaError):
    """The From domain is not a sending domain of this server (Postmark's 400)."""

    error_code = ErrorCode.SENDER_NOT_FOUND


class NotFound(MisivaError):
    """A named thing (message, server, domain) does not exist."""

    error_code = ErrorCode.MESSAGE_NOT_FOUND


class Conflict(MisivaError):
    """A thing with that name already exists."""

    error_code = ErrorCode.INVALID_REQUEST


class SetupError(MisivaError):
    """The platform cannot start as configured (unmigrated database, bad route...)."""


class TooLarge(MisivaError):
    """A message or batch over Postmark's size limits (HTTP 413)."""


class RateLimited(MisivaError):
    """Too many failed sign-ins from one client address (Postmark's 429, HTTP 429)."""

    error_code = ErrorCode.RATE_LIMITED


class ServiceUnavailable(MisivaError):
    """A service Misiva relies on (such as spamd) did not answer (HTTP 503)."""


class DatabaseUnavailable(ServiceUnavailable):
    """The database is unreachable, restarting, out of space or locked past our patience: the
    transaction did nothing, so the caller may try again (HTTP 503, a worker's next round)."""

    error_code = ErrorCode.DATABASE_UNAVAILABLE
