"""Delivery channels: each module builds its body, signs it and sends it.

    channel = get(kind)
    channel.send(url=..., secret=..., message=..., context=...)   # raises DeliveryError

`message` is a `notifications.messages.Message`; `context` carries the record's ids
for bodies that name them (the generic webhook).
"""

from types import ModuleType

from notifications.channels import feishu, webhook
from notifications.channels.http import DeliveryError

CHANNELS: dict[str, ModuleType] = {"feishu": feishu, "webhook": webhook}


def get(kind: str) -> ModuleType:
    return CHANNELS[kind]


__all__ = ["CHANNELS", "DeliveryError", "get"]
