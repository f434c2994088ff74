"""The worker process: the Celery app (``celery -A worker.app worker``), its task class, the
process's shared runtime and the plain functions each Celery task calls."""

from worker.app.celery_app import TASK_MODULES, app, create_app

__all__ = ["TASK_MODULES", "app", "create_app"]
