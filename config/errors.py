"""Errors that services raise for refused operations; views and the API show their message."""


class ServiceError(Exception):
    """A business rule refused the operation. ``message`` is safe to show to the user."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class TransitionNotAllowed(ServiceError):
    status_code = 409
    code = "transition_not_allowed"


class NotPermitted(ServiceError):
    status_code = 403
    code = "permission_denied"
