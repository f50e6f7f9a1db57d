from uuid import uuid4

from guideledger.kernel.privacy import Sealed
from guideledger.platform.vault import KeyVault
from guideledger.readmodels.store import MemoryReadModelStore


def test_seals_open_with_the_members_key_only_until_forgotten() -> None:
    vault = KeyVault(MemoryReadModelStore())
    alice, bob = uuid4(), uuid4()
    sealed = vault.seal(alice, "13800000000")
    assert "13800000000" not in sealed.ciphertext
    assert vault.unseal(sealed) == "13800000000"
    assert vault.unseal(Sealed(bob, sealed.ciphertext)) is None  # another member's key
    vault.seal(bob, "x")
    assert vault.unseal(Sealed(bob, sealed.ciphertext)) is None
    vault.forget(alice)
    assert vault.unseal(sealed) is None


def test_the_same_text_seals_differently_each_time() -> None:
    vault = KeyVault(MemoryReadModelStore())
    member = uuid4()
    assert vault.seal(member, "same").ciphertext != vault.seal(member, "same").ciphertext
