"""Errors the user sees as one clean line (mkdocs style: the CLI needs no try/except)."""

import click


class BillingReportsError(click.ClickException):
    """Base of every error the user should read: one line, what happened and what to do."""


class ConfigError(BillingReportsError):
    """config.yaml (or the command line) asks for something that cannot work."""


class CacheError(BillingReportsError):
    """A cache file cannot be read, has the wrong shape, or cannot be written.

    ``path`` and ``problem`` (what is wrong with it) let a caller word the fix
    for its own context, as ``build --demo`` does.
    """

    def __init__(self, message: str, *, path=None, problem: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.problem = problem


class ApiError(BillingReportsError):
    """The Cursor Admin API refused or failed a request for good.

    ``status``: the HTTP status of a refusal (400, 401, 403, 404...), ``None`` for a failure
    (retries exhausted, an answer of the wrong shape).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SiteError(BillingReportsError):
    """The site could not be written (a full disk, permissions); the previous site is kept."""


class PluginError(BillingReportsError):
    """A plugin failed to import or raised while computing its section."""


class PublishError(BillingReportsError):
    """A publish target could not take the site."""
