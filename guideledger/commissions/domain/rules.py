"""Commission rules, accounts and balanced postings.

An account is its owner (a payee, or the brand) and a bucket (`Account`).
Entries are signed: a debit is positive, a credit negative, and every posting's
entries sum to zero, so no fen appears or disappears and every balance is
derived from postings, never edited.

A payee's commission moves pending → settleable (when the return window has
passed) → payable (when its period closes into a statement) → paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Literal
from uuid import UUID

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.money import BASIS_POINTS, divide_half_up

ANY = "*"


class PayeeLevel(StrEnum):
    GUIDE = "guide"
    STORE = "store"
    DISTRICT = "district"
    REGION = "region"
    BRANCH = "branch"


class Bucket(StrEnum):
    PENDING = "pending"
    SETTLEABLE = "settleable"
    PAYABLE = "payable"
    HELD = "held"  # settleable at a store, held for a guide named on store-account orders
    HELD_PENDING = "held_pending"  # the same, before the return window has passed
    COMMISSION_EXPENSE = "commission_expense"  # the brand's
    BANK = "bank"  # the brand's


HELD_BUCKETS = frozenset({Bucket.HELD, Bucket.HELD_PENDING})
BRAND: Literal["brand"] = "brand"  # the owner level of the brand's own accounts
OwnerLevel = PayeeLevel | Literal["brand"]


class Account(str):
    """A ledger account: its owner (a payee's level and id, or the brand) and a bucket;
    a store's held bucket also names the guide whose share it holds.

    Its value is the text events have always stored, `<level>:<owner id>:<bucket>`
    (`store:<id>:held:<guide id>` for a held share), so it is a `str`: stored events,
    read-model keys and JSON keep exactly that text, while the code builds accounts
    from their parts (`Account.of`) and reads the parts back, never splitting by hand.
    """

    __slots__ = ()

    @staticmethod
    def of(
        level: OwnerLevel, owner_id: UUID, bucket: Bucket, held_for: UUID | None = None
    ) -> Account:
        return _account_of(level, owner_id, bucket, held_for)

    @staticmethod
    def parse(text: str) -> Account:
        """The account a stored text names; refused if the text is not an account."""
        return _parse_account(text)

    @property
    def level(self) -> OwnerLevel:
        level = self.split(":", 1)[0]
        return BRAND if level == BRAND else PayeeLevel(level)

    @property
    def owner_id(self) -> UUID:
        return UUID(self.split(":", 2)[1])

    @property
    def owner(self) -> str:
        """`<level>:<owner id>`: a payee's key, or the brand's."""
        return _owner_and_bucket(self)[0]

    @property
    def bucket(self) -> Bucket:
        return _owner_and_bucket(self)[1]

    @property
    def held_for(self) -> UUID | None:
        """The guide a store's held bucket holds a share for."""
        parts = self.split(":")
        return UUID(parts[3]) if len(parts) == 4 else None

    @property
    def bucket_name(self) -> str:
        """The bucket as the owner's balances name it: `held:<guide id>` for a held share."""
        return self.split(":", 2)[2]


# A month of postings names the same few thousand accounts again and again: each is
# built, parsed and split once (an id's text alone costs a microsecond).
@lru_cache(maxsize=16_384)
def _account_of(
    level: OwnerLevel, owner_id: UUID, bucket: Bucket, held_for: UUID | None
) -> Account:
    if (held_for is not None) != (bucket in HELD_BUCKETS):
        raise InvalidValue("a held bucket, and only a held bucket, names its guide")
    text = f"{level}:{owner_id}:{bucket}"
    return Account(text if held_for is None else f"{text}:{held_for}")


@lru_cache(maxsize=16_384)
def _owner_and_bucket(account: str) -> tuple[str, Bucket]:
    level, owner_id, bucket = account.split(":", 3)[:3]
    return f"{level}:{owner_id}", Bucket(bucket)


@lru_cache(maxsize=16_384)
def _parse_account(text: str) -> Account:
    parts = text.split(":")
    try:
        level = BRAND if parts[0] == BRAND else PayeeLevel(parts[0])
        held_for = UUID(parts[3]) if len(parts) == 4 else None
        account = Account.of(level, UUID(parts[1]), Bucket(parts[2]), held_for)
    except (IndexError, ValueError, InvalidValue):
        raise InvalidValue(f"{text!r} is not an account") from None
    if len(parts) > 4 or account != text:
        raise InvalidValue(f"{text!r} is not an account")
    return account


@dataclass(frozen=True)
class Payee:
    level: PayeeLevel
    payee_id: UUID
    held_by_store: UUID | None = None  # the guide's share waits at this store until close

    def __post_init__(self) -> None:
        if type(self.level) is not PayeeLevel:  # given as text
            object.__setattr__(self, "level", PayeeLevel(self.level))

    @property
    def key(self) -> str:
        return _payee_key(self.level, self.payee_id)

    @classmethod
    def of_key(cls, key: str) -> Payee:
        """The payee a key names (`<level>:<id>`); who holds their share is not in it."""
        level, payee_id = key.split(":", 1)
        return cls(PayeeLevel(level), UUID(payee_id))

    def account(self, bucket: Bucket) -> Account:
        """A held share sits at the store until the period closes and it is handed back."""
        if self.held_by_store is not None and bucket in {Bucket.PENDING, Bucket.SETTLEABLE}:
            held = Bucket.HELD if bucket is Bucket.SETTLEABLE else Bucket.HELD_PENDING
            return Account.of(PayeeLevel.STORE, self.held_by_store, held, self.payee_id)
        return Account.of(self.level, self.payee_id, bucket)


@lru_cache(maxsize=16_384)
def _payee_key(level: PayeeLevel, payee_id: UUID) -> str:
    return f"{level}:{payee_id}"


def expense_account(brand_id: UUID) -> Account:
    return Account.of(BRAND, brand_id, Bucket.COMMISSION_EXPENSE)


def bank_account(brand_id: UUID) -> Account:
    return Account.of(BRAND, brand_id, Bucket.BANK)


@dataclass(frozen=True)
class RateRule:
    """A rate for one payee level, optionally only for one SKU category or channel."""

    level: PayeeLevel
    rate_bp: int
    category: str = ANY
    channel: str = ANY

    def __post_init__(self) -> None:
        if type(self.level) is not PayeeLevel:  # given as text
            object.__setattr__(self, "level", PayeeLevel(self.level))
        if not 0 <= self.rate_bp <= 5_000:
            raise InvalidValue("a commission rate is between 0 and 5,000 basis points")

    def matches(self, level: PayeeLevel, category: str, channel: str) -> bool:
        return (
            self.level is level
            and self.category in {ANY, category}
            and self.channel in {ANY, channel}
        )

    @property
    def specificity(self) -> int:
        return 2 * (self.category != ANY) + (self.channel != ANY)


DEFAULT_RATES = (
    RateRule(PayeeLevel.GUIDE, 300),
    RateRule(PayeeLevel.STORE, 100),
    RateRule(PayeeLevel.DISTRICT, 30),
    RateRule(PayeeLevel.REGION, 20),
    RateRule(PayeeLevel.BRANCH, 50),
)


@dataclass(frozen=True)
class CommissionPolicy:
    version: int = 0
    effective_from: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    rates: tuple[RateRule, ...] = DEFAULT_RATES
    fulfilment_fee_bp: int = 200
    top_guide_percent: int = 5
    top_guide_bonus_fen: int = 50_000
    return_window_days: int = 7

    def __post_init__(self) -> None:
        if not 0 <= self.fulfilment_fee_bp <= 5_000:
            raise InvalidValue("the fulfilment fee is between 0 and 5,000 basis points")
        if not 0 <= self.top_guide_percent <= 100:
            raise InvalidValue("top_guide_percent is between 0 and 100")
        if not 0 <= self.top_guide_bonus_fen <= 10**9:
            raise InvalidValue("top_guide_bonus_fen is between 0 and 10^9")
        if not 0 <= self.return_window_days <= 90:
            raise InvalidValue("return_window_days is between 0 and 90")

    @property
    def return_window(self) -> timedelta:
        return timedelta(days=self.return_window_days)

    def rate(self, level: PayeeLevel, category: str, channel: str) -> int:
        """The most specific matching rule's rate; 0 if none matches."""
        looked_up = self._rates_looked_up
        key = (level, category, channel)
        if key not in looked_up:
            matching = [r for r in self.rates if r.matches(level, category, channel)]
            looked_up[key] = max(matching, key=lambda r: r.specificity).rate_bp if matching else 0
        return looked_up[key]

    @cached_property
    def _rates_looked_up(self) -> dict[tuple[PayeeLevel, str, str], int]:
        """The rates found so far: a month's sales ask for the same few again and again.
        Not a field: the rules are their rates, and are stored without it."""
        return {}


DEFAULT_COMMISSION_POLICY = CommissionPolicy()


@dataclass(frozen=True)
class SaleLine:
    amount_fen: int
    category: str


def commissions(
    lines: Sequence[SaleLine],
    channel: str,
    payees: Sequence[Payee],
    policy: CommissionPolicy,
) -> dict[Payee, int]:
    """What each payee earns on a sale: the exact sum over lines, rounded half up once."""
    earned = {}
    for payee in payees:
        exact_bp = sum(
            line.amount_fen * policy.rate(payee.level, line.category, channel) for line in lines
        )
        amount = divide_half_up(exact_bp, BASIS_POINTS)
        if amount:
            earned[payee] = amount
    return earned


@dataclass(frozen=True)
class Entry:
    account: Account
    amount_fen: int  # debit positive, credit negative

    def __post_init__(self) -> None:
        if type(self.account) is not Account:  # decoded from its stored text
            object.__setattr__(self, "account", Account.parse(self.account))


class PostingKind(StrEnum):
    ACCRUAL = "accrual"
    MATURITY = "maturity"
    REVERSAL = "reversal"
    CLAWBACK = "clawback"
    HANDBACK = "handback"
    BONUS = "bonus"
    SETTLEMENT = "settlement"
    PAYOUT = "payout"
    CORRECTION = "correction"  # an accrual booked again under changed rules


@dataclass(frozen=True)
class Posting:
    posting_id: str
    kind: PostingKind
    brand_id: UUID
    entries: tuple[Entry, ...]
    period: str
    occurred_at: datetime
    order_id: UUID | None = None
    rule_version: int | None = None
    source_events: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if type(self.kind) is not PostingKind:  # given as text
            object.__setattr__(self, "kind", PostingKind(self.kind))
        if not self.entries:
            raise InvalidValue("a posting has entries")
        if any(e.amount_fen == 0 for e in self.entries):
            raise InvalidValue("a posting's entries move money")
        if sum(e.amount_fen for e in self.entries) != 0:
            raise InvalidValue("a posting must balance: debits equal credits")

    def amount_to(self, account: Account) -> int:
        """What the posting credits to an account (positive when the account is owed more)."""
        return -sum(e.amount_fen for e in self.entries if e.account == account)

    def settleable_credits(self) -> list[tuple[Account, int]]:
        """What the posting moves to each payee's settleable balance: each is a line on the
        payee's statement (a guide whose share a store holds has none: the store settles)."""
        return self._credits(Bucket.SETTLEABLE)

    def held_credits(self) -> list[tuple[Account, int]]:
        """What the posting moves to the shares stores hold for guides (settleable): each
        is a line on the store's statement, not in its total."""
        return self._credits(Bucket.HELD)

    def _credits(self, bucket: Bucket) -> list[tuple[Account, int]]:
        accounts = dict.fromkeys(e.account for e in self.entries if e.account.bucket is bucket)
        moved = [(account, self.amount_to(account)) for account in accounts]
        return [(account, amount) for account, amount in moved if amount]


def expense_posting(
    posting_id: str,
    kind: PostingKind,
    brand_id: UUID,
    credits: Sequence[tuple[Account, int]],
    *,
    period: str,
    occurred_at: datetime,
    order_id: UUID,
    rule_version: int,
    source_events: tuple[str, ...],
) -> Posting | None:
    """Each account credited its amount (debited, if negative) against the brand's
    commission expense; None if no amount moves."""
    entries = [Entry(account, -amount) for account, amount in credits if amount]
    if not entries:
        return None
    if total := sum(amount for _, amount in credits):
        entries.insert(0, Entry(expense_account(brand_id), total))
    return Posting(
        posting_id,
        kind,
        brand_id,
        tuple(entries),
        period,
        occurred_at,
        order_id,
        rule_version,
        source_events,
    )
