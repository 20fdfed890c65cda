"""Errors the user sees as one clean line (mkdocs style: the CLI needs no try/except)."""

import click


class BillingReportsError(click.ClickException):
    """Base of every error the user should read: one line, what happened and what to do."""


class ConfigError(BillingReportsError):
    """config.yaml (or the command line) asks for something that cannot work."""


class CacheError(BillingReportsError):
    """A cache file cannot be read or has the wrong shape."""


class ApiError(BillingReportsError):
    """The Cursor Admin API refused or failed a request for good."""


class PluginError(BillingReportsError):
    """A plugin failed to import or raised while computing its section."""


class PublishError(BillingReportsError):
    """A publish target could not take the site."""
