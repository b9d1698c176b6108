"""Exchange notifications (maintenance windows, market notes) posted on the simulator.

The exchange publishes them on ``GET /notifications`` (reference §4.17) and on
the private WebSocket feed ``notifications_auth`` (§3.5); the simulator has
none until a test or a lesson posts one.

Example
-------
>>> board = Notifications()
>>> board.post("Maintenance at 06:00 UTC", type="maintenance", priority="high",
...            effective_time_ms=1793512800000, expected_downtime_minutes=30).ws()["id"]
1
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Notice", "Notifications"]

TYPES = frozenset({"market", "general", "new_feature", "bug_fix", "maintenance", "settlement"})
PRIORITIES = frozenset({"low", "medium", "high"})


@dataclass(frozen=True)
class Notice:
    """One notification; ``high`` + ``maintenance`` means downtime at ``effective_time_ms``."""

    id: int
    type: str
    priority: str
    note: str
    effective_time_ms: int
    expected_downtime_minutes: int | None = None

    def ws(self) -> dict[str, object]:
        """The ``notifications_auth`` feed's element (snake_case, epoch ms)."""
        body: dict[str, object] = {
            "id": self.id,
            "type": self.type,
            "priority": self.priority,
            "note": self.note,
            "effective_time": self.effective_time_ms,
        }
        if self.expected_downtime_minutes is not None:
            body["expected_downtime_minutes"] = self.expected_downtime_minutes
        return body


class Notifications:
    """The exchange's notice board: thread-safe, ids from 1, never emptied."""

    def __init__(self) -> None:
        self._items: list[Notice] = []
        self._lock = threading.Lock()

    def post(
        self,
        note: str,
        *,
        type: str = "general",
        priority: str = "low",
        effective_time_ms: int,
        expected_downtime_minutes: int | None = None,
    ) -> Notice:
        """Publish a notice; subscribers of ``notifications_auth`` get it on the next tick.

        Raises
        ------
        ValueError
            A ``type`` or ``priority`` the exchange does not use.
        """
        if type not in TYPES:
            raise ValueError(f"notification type {type!r} is not one of {sorted(TYPES)}")
        if priority not in PRIORITIES:
            raise ValueError(
                f"notification priority {priority!r} is not one of {sorted(PRIORITIES)}"
            )
        with self._lock:
            notice = Notice(
                len(self._items) + 1, type, priority, note, int(effective_time_ms),
                expected_downtime_minutes,
            )
            self._items.append(notice)
        return notice

    def since(self, count: int) -> list[Notice]:
        """The notices after the first ``count`` (all with ``count=0``)."""
        with self._lock:
            return self._items[count:]

    def __len__(self) -> int:
        return len(self._items)
