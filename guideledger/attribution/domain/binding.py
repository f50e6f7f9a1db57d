"""A member's exclusive guide (专属导购) within one brand, and its history.

- first touch: the first attributed purchase binds the member to that guide for
  a protection window, during which another guide's sale does not steal it;
  after the window the next attributed purchase may rebind;
- last touch: every attributed purchase binds to its guide;
- at registration: only registration (or support) binds.
Support can rebind with a reason; a guide who leaves releases their members.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.attribution.domain.rules import BindingMode
from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.values import natural_id, require_text, require_utc


class MemberBinding(Aggregate):
    @staticmethod
    def create_id(member_id: UUID, brand_id: UUID) -> UUID:
        return natural_id("member-binding", member_id, brand_id)

    class Opened(Aggregate.Created):
        member_id: UUID
        brand_id: UUID

    @event(Opened)
    def __init__(self, member_id: UUID, brand_id: UUID) -> None:
        self.member_id = member_id
        self.brand_id = brand_id
        self.guide_id: UUID | None = None
        self.protected_until: datetime | None = None

    def is_protected(self, at: datetime) -> bool:
        return self.protected_until is not None and at < self.protected_until

    def after_attributed_purchase(
        self,
        guide_id: UUID,
        mode: BindingMode,
        protection: timedelta,
        order_id: UUID,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """Binds (or not) by the mode; never raises, since the sale stands either way."""
        if mode is BindingMode.AT_REGISTRATION or guide_id == self.guide_id:
            return
        if mode is BindingMode.FIRST_TOUCH and self.guide_id and self.is_protected(occurred_at):
            return
        self._record_bound(
            guide_id,
            occurred_at + protection,
            f"attributed purchase {order_id}",
            occurred_at,
            actor,
        )

    def bind(
        self, guide_id: UUID, reason: str, protection: timedelta, occurred_at: datetime, actor: str
    ) -> None:
        """Registration or support binds explicitly, whatever the protection."""
        occurred_at = require_utc(occurred_at)
        if guide_id == self.guide_id:
            raise RuleViolated("the member is already bound to that guide")
        self._record_bound(
            guide_id,
            occurred_at + protection,
            require_text("reason", reason, 500),
            occurred_at,
            actor,
        )

    class Bound(Aggregate.Event):
        guide_id: UUID
        protected_until: datetime
        reason: str
        occurred_at: datetime
        actor: str

    @event(Bound)
    def _record_bound(
        self,
        guide_id: UUID,
        protected_until: datetime,
        reason: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.guide_id = guide_id
        self.protected_until = protected_until

    def release(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if self.guide_id is None:
            raise RuleViolated("the member is not bound to a guide")
        self._record_released(
            self.guide_id, require_text("reason", reason, 500), occurred_at, actor
        )

    class Released(Aggregate.Event):
        guide_id: UUID
        reason: str
        occurred_at: datetime
        actor: str

    @event(Released)
    def _record_released(
        self, guide_id: UUID, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        self.guide_id = None
        self.protected_until = None
