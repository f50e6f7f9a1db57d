"""A change of a brand's commission rules, before it is booked.

After the change, each order's commission is computed under the version in force when
it was paid, among the versions published and the one proposed (a proposal effective
1 November reaches the orders paid from 1 November; those paid before keep their rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from guideledger.commissions.domain.rules import DEFAULT_COMMISSION_POLICY, CommissionPolicy
from guideledger.kernel.policies import in_force


@dataclass(frozen=True)
class RuleChange:
    brand_id: UUID
    published: tuple[CommissionPolicy, ...]  # the brand's versions, oldest first
    proposal: CommissionPolicy | None = None  # numbered as the next version; None: none

    @property
    def policies(self) -> tuple[CommissionPolicy, ...]:
        """The brand's versions as they stand after the change."""
        return self.published if self.proposal is None else (*self.published, self.proposal)

    def in_force(self, paid_at: datetime) -> CommissionPolicy:
        """The version an order paid at `paid_at` is computed under after the change."""
        return in_force(self.policies, paid_at, DEFAULT_COMMISSION_POLICY)
