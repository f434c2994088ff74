"""The Celery task names of notification delivery (``tasks/notifications.py``), for whoever
publishes one: JSON kwargs ``tenant_id`` and ``delivery_id`` / ``communication_id``."""

SWEEP = "notifications.sweep"
DELIVER_WEBHOOK = "notifications.deliver_webhook"
SEND_EMAIL = "notifications.send_email"

__all__ = ["DELIVER_WEBHOOK", "SEND_EMAIL", "SWEEP"]
