"""What can go wrong with notifications, in words that say what to do."""

from __future__ import annotations

from worker.core.errors import AgentWorkerError

__all__ = ["InvalidEndpoint", "NotificationError", "UnknownDelivery", "UnknownEndpoint"]


class NotificationError(AgentWorkerError):
    code = "notification_error"


class InvalidEndpoint(NotificationError):
    code = "invalid_endpoint"


class UnknownEndpoint(NotificationError):
    code = "unknown_endpoint"


class UnknownDelivery(NotificationError):
    code = "unknown_delivery"
