"""Per-member keys (AES-256-GCM) for personal data in events; forgetting deletes the key.

Keys live in their own table beside the read models (a read-model rebuild never
touches it). Unsealing reads the key from the store every time, never from a cache, so
a member forgotten by one process is unreadable in every other at once. Sealing keeps
the keys it used in a bounded cache (one round trip fewer per order): sealing with a
key another process has just deleted writes only what nobody can read.
"""

from __future__ import annotations

import base64
import os
import threading
from collections import OrderedDict
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from guideledger.kernel.privacy import Sealed
from guideledger.readmodels.model import Table
from guideledger.readmodels.store import ReadModelStore

MEMBER_KEYS = Table(
    name="member_keys",
    key=("member_id",),
    columns={"member_id": "uuid", "key": "text"},
)
NONCE_BYTES = 12
SEALING_KEYS_CACHED = 10_000


class KeyVault:
    def __init__(self, store: ReadModelStore) -> None:
        self.store = store
        store.create_tables([MEMBER_KEYS])
        self._sealing_keys: OrderedDict[UUID, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def seal(self, member_id: UUID, text: str) -> Sealed:
        key = self._sealing_key(member_id)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, text.encode(), member_id.bytes)
        return Sealed(member_id, base64.b64encode(nonce + ciphertext).decode())

    def unseal(self, sealed: Sealed) -> str | None:
        key = self._key(sealed.member_id)
        if key is None:
            return None
        raw = base64.b64decode(sealed.ciphertext)
        try:
            plain = AESGCM(key).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], sealed.member_id.bytes
            )
        except InvalidTag:
            return None
        return plain.decode()

    def holds_key(self, member_id: UUID) -> bool:
        return self._key(member_id) is not None

    def forget(self, member_id: UUID) -> None:
        with self._lock:
            self._sealing_keys.pop(member_id, None)
        self.store.delete(MEMBER_KEYS, (member_id,))

    def _sealing_key(self, member_id: UUID) -> bytes:
        with self._lock:
            key = self._sealing_keys.get(member_id)
        if key is None:
            key = self._key(member_id) or self._create_key(member_id)
            with self._lock:
                self._sealing_keys[member_id] = key
                if len(self._sealing_keys) > SEALING_KEYS_CACHED:
                    self._sealing_keys.popitem(last=False)
        return key

    def _key(self, member_id: UUID) -> bytes | None:
        rows = self.store.select(MEMBER_KEYS, {"member_id": member_id})
        return base64.b64decode(rows[0]["key"]) if rows else None

    def _create_key(self, member_id: UUID) -> bytes:
        """Two processes sealing for a new member at once agree on the first key written."""
        candidate = base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
        self.store.insert_if_absent(MEMBER_KEYS, (member_id,), {"key": candidate})
        key = self._key(member_id)
        assert key is not None
        return key
