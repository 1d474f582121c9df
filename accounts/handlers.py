"""Outbox handlers of the accounts service (OutboxConfig.ready() imports every app's handlers)."""

from accounts.credits import handlers  # noqa: F401  (the plan square's rewards)
