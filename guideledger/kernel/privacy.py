"""Personal data, sealed under a key of the member it belongs to.

The domain only carries sealed values; whoever holds the member's key can open
them. Forgetting a member deletes the key: every sealed value of theirs, in
every event ever stored, becomes unreadable, while orders, attribution and the
ledger (which hold no personal data) stay whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class Sealed:
    member_id: UUID
    ciphertext: str  # base64 of nonce and ciphertext


class Vault(Protocol):
    def seal(self, member_id: UUID, text: str) -> Sealed: ...

    def unseal(self, sealed: Sealed) -> str | None:
        """The text, or None once the member has been forgotten."""
        ...

    def forget(self, member_id: UUID) -> None: ...
