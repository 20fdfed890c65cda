"""The built-in notifier kinds, each an ordinary plugin of ``register_notifiers``.

- ``slack`` (:mod:`.slack`): a Slack incoming webhook, a Block Kit message;
- ``webhook`` (:mod:`.webhook`): a JSON POST of the alerts, signed with HMAC-SHA256 when a secret is set;
- ``email`` (:mod:`.smtp`): e-mail over SMTP with STARTTLS, a plain-text and an HTML body.

Each kind's class is its own factory, ``Kind(name, options, settings)``: it checks the options (a
:class:`~billing_reports.errors.ConfigError` naming every bad key of the notifier) and reads its
secrets from the environment or ``.env`` before anything is sent. ``send`` makes one attempt,
bounded by ``timeout_seconds``, and raises :class:`NotifierError` (one line, never a secret).
"""

from ..errors import BillingReportsError


class NotifierError(BillingReportsError):
    """A notifier could not deliver its alerts (one line, no secret in it)."""


__all__ = ["NotifierError"]
