"""Notifications that reach people (issue 13): per-tenant webhooks signed the Standard Webhooks
way, delivered from an outbox with retries and backoff, and email through SMTP (approval
messages with a link to the inbox, and the ``send_email`` tool's messages once approved).

The outbox rows are written by the database in the transaction of the change they report
(migration 0009); the sweep (``notifications.sweep``, Celery beat) and the delivery tasks send
them.
"""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "errors": ["InvalidEndpoint", "NotificationError", "UnknownDelivery", "UnknownEndpoint"],
        "signing": ["InvalidSignature", "new_secret", "sign", "signed_headers", "verify"],
        "retry": ["backoff_seconds", "retry_delay"],
        "endpoints": [
            "AddedEndpoint",
            "EndpointView",
            "add_endpoint",
            "list_endpoints",
            "remove_endpoint",
            "subscribable",
        ],
        "deliveries": ["DeliveryView", "get_delivery", "list_deliveries", "resend"],
        "webhooks": ["AttemptOutcome", "body_of", "deliver_webhook"],
        "smtp": ["SmtpConfig", "SmtpFailure", "send_message"],
        "emails": ["NOT_CONFIGURED", "EmailOutcome", "deliver_email", "message_id_of"],
        "approval_emails": ["approval_link", "queue_approval_emails"],
        "sweep": ["DueItem", "SweepReport", "due_items", "sweep"],
        "task_names": ["DELIVER_WEBHOOK", "SEND_EMAIL", "SWEEP"],
    },
)
