"""A publisher that records instead of sending, for service-level tests without a broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingPublisher:
    sent: list[tuple[str, dict[str, Any], float | None]] = field(default_factory=list)

    def publish(
        self,
        name: str,
        kwargs: dict[str, Any],
        *,
        task_id: str | None = None,
        countdown: float | None = None,
        priority: int | None = None,
    ) -> str:
        self.sent.append((name, kwargs, countdown))
        return task_id or f"recorded-{len(self.sent)}"

    def names(self) -> list[str]:
        return [name for name, _, _ in self.sent]
