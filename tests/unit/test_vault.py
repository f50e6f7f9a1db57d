from uuid import uuid4

from guideledger.kernel.privacy import Sealed, area_of, seal_point, unseal_point
from guideledger.kernel.values import GeoPoint
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
    assert vault.holds_key(alice)
    vault.forget(alice)
    assert vault.unseal(sealed) is None
    assert not vault.holds_key(alice)


def test_the_same_text_seals_differently_each_time() -> None:
    vault = KeyVault(MemoryReadModelStore())
    member = uuid4()
    assert vault.seal(member, "same").ciphertext != vault.seal(member, "same").ciphertext


def test_a_member_forgotten_by_another_process_is_unreadable_here_at_once() -> None:
    """Two processes on one key table: this one sealed with a cached key; after the other
    forgets the member, nothing sealed here, before or after, can be read."""
    store = MemoryReadModelStore()
    here, there = KeyVault(store), KeyVault(store)
    alice = uuid4()
    before = here.seal(alice, "13800000000")
    there.forget(alice)
    after = here.seal(alice, "13900000000")
    assert here.unseal(before) is None
    assert here.unseal(after) is None
    assert there.unseal(after) is None


def test_a_point_seals_whole_and_its_area_keeps_about_a_kilometre() -> None:
    vault = KeyVault(MemoryReadModelStore())
    member = uuid4()
    point = GeoPoint(31.230416, 121.473701)
    sealed = seal_point(vault, member, point)
    assert "31.23" not in sealed.ciphertext
    assert unseal_point(vault, sealed) == point
    assert area_of(point) == GeoPoint(31.23, 121.47)
    vault.forget(member)
    assert unseal_point(vault, sealed) is None
