"""Delivery channels: each module builds its message, signs it where the kind signs, and sends it.

    channel = get(kind)
    channel.check(target)          # before each send; raises DeliveryError (permanent)
    channel.send(target=..., secret=..., message=..., context=..., now=..., previous_secret=...)
    channel.mask(target)           # how the target is shown and logged

`target` is the channel's URL (Feishu, webhook) or address (email); `message` is a
`notifications.messages.Message`; `context` carries the record's ids for bodies that name
them. A failed send raises DeliveryError: permanent → dead at once, otherwise retried.
"""

from types import ModuleType

from notifications.channels import email, feishu, webhook
from notifications.channels.http import DeliveryError

CHANNELS: dict[str, ModuleType] = {"feishu": feishu, "webhook": webhook, "email": email}


def get(kind: str) -> ModuleType:
    return CHANNELS[kind]


__all__ = ["CHANNELS", "DeliveryError", "get"]
