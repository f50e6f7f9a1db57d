"""Events are stored as MessagePack and read straight into their declared types; the
events stored before, in JSON by the library's transcoder, read the same."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import NoneType, UnionType
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import Mapper, StoredEvent
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from guideledger.attribution.domain.rules import AttributionPolicy
from guideledger.bootstrap import bootstrap
from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import (
    Account,
    Bucket,
    CommissionPolicy,
    Entry,
    PayeeLevel,
    Posting,
)
from guideledger.composition import Ledger
from guideledger.engagement.application.app import EngagementApplication
from guideledger.engagement.domain import ShareKind
from guideledger.eventstore.application import LedgerApplication, Runtime
from guideledger.eventstore.codec import TypedMapper
from guideledger.eventstore.commands import Command
from guideledger.fulfilment.domain.routing import RoutingPolicy
from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.policies import PolicyBook
from guideledger.orders.application.app import OrderApplication
from guideledger.orders.domain.order import Order
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.domain.catalogue import Sku
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.app.test_commissions_app import (
    delivered_order,
    guide_key,
    mature_and_close_november,
    without_bonus,
)
from tests.app.test_event_versions import in_json
from tests.events import event_classes
from tests.world import FRONTEND, World, build_world, order_total, pay, place_order

LIBRARY_MAPPER = "eventsourcing.persistence:Mapper"  # how every event was stored before
APPLICATIONS = (
    OrganisationApplication,
    OrderApplication,
    EngagementApplication,
    CommissionApplication,
)


def applications(ledger: Ledger) -> tuple[LedgerApplication, ...]:
    return (ledger.organisation, ledger.orders, ledger.engagement, ledger.commissions)


def a_month(ledger: Ledger, world: World, clock: ManualClock) -> None:
    """Events of every context: policies, orders paid, shipped, delivered, cancelled and
    refunded, a share and its visits, commissions accrued, matured and settled."""
    without_bonus(ledger, world, clock)
    ledger.engagement.record_visits(
        Command("mall"),
        ledger.engagement.share(Command("guide"), world.guide_id, ShareKind.QR_CODE)[1],
        2,
    )
    delivered_order(ledger, world)
    cancelled = place_order(ledger, world, (1, 1)).id
    pay(ledger, cancelled)
    ledger.orders.cancel(Command("support"), cancelled, "changed mind")
    ledger.orders.refund(Command("finance"), cancelled, "f1", order_total((1, 1)))
    ledger.projections.process_all()
    mature_and_close_november(ledger, world, clock)


def assert_identical(again: Any, before: Any, where: str = "event") -> None:
    """Equal, and of the same types all the way down (a tuple is no list, an int no
    float, an `Account` no plain text, an enum no string)."""
    assert type(again) is type(before), f"{where}: {type(again)} is not {type(before)}"
    if isinstance(before, tuple | list):
        assert len(again) == len(before), where
        for n, (a, b) in enumerate(zip(again, before, strict=True)):
            assert_identical(a, b, f"{where}[{n}]")
    elif isinstance(before, dict):
        assert again.keys() == before.keys(), where
        for key in before:
            assert_identical(again[key], before[key], f"{where}[{key!r}]")
    elif dataclasses.is_dataclass(before):
        assert_identical(vars(again), vars(before), where)
    elif isinstance(before, datetime):
        assert (again, again.tzinfo) == (before, before.tzinfo), where
    else:
        assert again == before, where


def assert_declared_types(event: Any) -> None:
    assert of_declared_types(event), f"{type(event).__qualname__}: {vars(event)}"


def of_declared_types(obj: Any) -> bool:
    """Every field holds a value of its declared type, all the way down."""
    hints = typing.get_type_hints(type(obj))
    return all(
        of_type(value, hints[name])
        for name, value in vars(obj).items()
        if name in hints and name not in ("originator_id", "originator_version")
    )


def of_type(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:  # a policy
        return dataclasses.is_dataclass(value) and of_declared_types(value)
    if origin in (UnionType, typing.Union):
        return any(of_type(value, arg) for arg in args)
    if origin in (tuple, Sequence):
        return type(value) is tuple and all(of_type(item, args[0]) for item in value)
    if origin is dict:
        return type(value) is dict and all(
            of_type(k, args[0]) and of_type(v, args[1]) for k, v in value.items()
        )
    if hint is datetime:
        return type(value) is datetime and value.utcoffset() == timedelta(0)
    if dataclasses.is_dataclass(hint):
        return type(value) is hint and of_declared_types(value)
    return type(value) is hint  # int is no bool or float, an Account no plain text


def as_json_decoded(value: Any) -> Any:
    """What the library's JSON brings back of a value: lists for tuples, text for
    integer keys."""
    if isinstance(value, tuple | list):
        return [as_json_decoded(item) for item in value]
    if isinstance(value, dict):
        return {str(k) if isinstance(k, int) else k: as_json_decoded(v) for k, v in value.items()}
    return value


def a_copy_paid_in_version_1(ledger: Ledger, order_id: UUID) -> UUID:
    """The order's events again under a new id, its payment recorded in version 1 (before
    the paid event carried its day)."""
    copy_id = uuid4()
    copied = [
        in_json(ledger.orders, e) if e.topic.endswith(":Order.Paid") else e
        for e in ledger.orders.recorder.select_events(order_id)
    ]
    assert [b"sales_day" in e.state for e in copied if e.topic.endswith(":Order.Paid")] == [False]
    ledger.orders.recorder.insert_events(
        [dataclasses.replace(e, originator_id=copy_id) for e in copied]
    )
    return copy_id


def test_events_stored_in_json_before_read_the_same_with_their_declared_types(
    postgres_url: str,
    postgres_schema: str,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(
        persistence=Persistence.POSTGRES,
        database_url=SecretStr(postgres_url),
        postgres_schema=postgres_schema,
        postgres_pool_size=2,
    )
    monkeypatch.setenv("MAPPER_TOPIC", LIBRARY_MAPPER)
    with bootstrap(settings, clock) as before:
        assert all(type(app.mapper) is not TypedMapper for app in applications(before))
        world = build_world(before)
        a_month(before, world, clock)
        order_id = delivered_order(before, world)
        copy_id = a_copy_paid_in_version_1(before, order_id)
        stored = {
            app.name: [
                (n, app.mapper.to_domain_event(n))
                for n in app.recorder.select_notifications(start=1, limit=100_000)
            ]
            for app in applications(before)
        }
        statement = before.commissions.statement(guide_key(world), "2026-11")
    monkeypatch.delenv("MAPPER_TOPIC")

    with bootstrap(settings, clock) as after:
        for application in applications(after):
            mapper = application.mapper
            assert type(mapper) is TypedMapper
            for notification, as_the_library_read_it in stored[application.name]:
                assert notification.state.startswith(b"{"), "stored in JSON"
                event = mapper.to_domain_event(notification)
                assert type(event) is type(as_the_library_read_it)
                assert as_json_decoded(vars(event)) == as_json_decoded(vars(as_the_library_read_it))
                assert_declared_types(event)
                again = mapper.to_domain_event(mapper.to_stored_event(event))
                assert_identical(vars(again), vars(event), type(event).__qualname__)
        # The aggregates, the statements and the audit read the old log as before.
        copy, order = after.orders.load(Order, copy_id), after.orders.load(Order, order_id)
        assert (copy.sales_day, copy.paid_fen) == (order.sales_day, order.paid_fen)
        again = after.commissions.statement(guide_key(world), "2026-11")
        assert (again.total_fen, again.closed) == (statement.total_fen, True)
        assert after.settlement_audit().run(world.brand_id, "2026-11").clean
        # New events follow the old ones in the same stores.
        new_order_id = delivered_order(after, world)
        [latest] = after.orders.recorder.select_events(new_order_id, desc=True, limit=1)
        assert not latest.state.startswith(b"{"), "stored as MessagePack"
        assert after.orders.load(Order, new_order_id).is_paid


def test_an_integer_beyond_64_bits_is_stored_exactly(ledger: Ledger) -> None:
    """MessagePack carries at most 64 bits: such an event is stored in JSON instead."""
    world = build_world(ledger)
    huge = 2**64 + 1
    sku_id = ledger.organisation.register_sku(
        FRONTEND,
        brand_id=world.brand_id,
        code="HUGE",
        name="Huge",
        category="shoes",
        price_fen=huge,
    ).id
    [stored] = ledger.organisation.recorder.select_events(sku_id)
    assert stored.state.startswith(b"{")
    event = ledger.organisation.mapper.to_domain_event(stored)
    assert_declared_types(event)
    assert (event.price_fen, type(event.price_fen)) == (huge, int)
    assert ledger.organisation.load(Sku, sku_id).price_fen == huge


# --- every event class -------------------------------------------------------------


class EveryValueType(LedgerApplication):
    """Knows the value objects of all the applications: an event holding an integer
    beyond 64 bits is stored in JSON, which names each value object."""

    value_types = tuple({t: None for app in APPLICATIONS for t in app.value_types})


@pytest.fixture(scope="module")
def mapper() -> Iterator[TypedMapper]:
    clock = ManualClock(datetime(2026, 11, 2, tzinfo=UTC))
    application = EveryValueType(Runtime(clock, {"PERSISTENCE_MODULE": "eventsourcing.popo"}))
    assert isinstance(application.mapper, TypedMapper)
    yield application.mapper
    application.close()


INTEGERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=2**64, max_value=2**80),  # MessagePack cannot carry these
    st.integers(min_value=-(2**80), max_value=-(2**63) - 1),
)
POLICIES = (RoutingPolicy, AttributionPolicy, CommissionPolicy)
SIMPLE: dict[Any, st.SearchStrategy[Any]] = {
    UUID: st.uuids(),
    datetime: st.datetimes(timezones=st.just(UTC)),
    timedelta: st.timedeltas(),
    int: INTEGERS,
    float: st.floats(allow_nan=False),
    bool: st.booleans(),
    str: st.text(max_size=20),
    NoneType: st.none(),
}


def values(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a declared type, value objects built by their own constructors."""
    if hint in SIMPLE:
        return SIMPLE[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Account:
        return st.builds(
            Account.of,
            st.sampled_from(PayeeLevel),
            st.uuids(),
            st.sampled_from(Bucket).filter(lambda b: b not in (Bucket.HELD, Bucket.HELD_PENDING)),
        )
    if hint is Any:  # a policy: a value object named by its class
        return st.one_of(*(values(policy) for policy in POLICIES))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(hint)
    if origin in (UnionType, typing.Union):
        return st.one_of(*(values(arg) for arg in args))
    if origin in (tuple, Sequence):
        return st.lists(values(args[0]), max_size=3).map(tuple)
    if origin is dict:
        return st.dictionaries(values(args[0]), values(args[1]), max_size=3)
    if hint is Posting:
        return value_objects(Posting, entries=balanced_entries())
    if dataclasses.is_dataclass(hint):
        return value_objects(hint)
    raise AssertionError(f"no strategy for {hint!r}")


@st.composite
def value_objects(draw: st.DrawFn, cls: type, **given: st.SearchStrategy[Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: draw(given[f.name] if f.name in given else values(hints[f.name]))
        for f in dataclasses.fields(cls)
        if f.init
    }
    try:
        return cls(**kwargs)
    except (InvalidValue, ValueError):
        reject()


@st.composite
def balanced_entries(draw: st.DrawFn) -> tuple[Entry, ...]:
    debits = draw(st.lists(st.integers(min_value=1, max_value=2**62), min_size=1, max_size=3))
    amounts = [*debits, -sum(debits)]
    return tuple(Entry(draw(values(Account)), amount) for amount in amounts)


@st.composite
def events(draw: st.DrawFn, cls: type) -> Any:
    state = {
        name: draw(values(hint))
        for name, hint in typing.get_type_hints(cls).items()
        if typing.get_origin(hint) is not typing.ClassVar
        and name not in ("originator_id", "originator_version")
    }
    event = object.__new__(cls)
    state["originator_id"] = draw(st.uuids())
    state["originator_version"] = draw(st.integers(min_value=1, max_value=2**31))
    object.__setattr__(event, "__dict__", state)
    return event


@pytest.mark.parametrize("cls", event_classes(), ids=lambda cls: cls.__qualname__)
def test_every_event_class_comes_back_with_every_field_and_its_type(
    mapper: TypedMapper, cls: type
) -> None:
    assert mapper.codec(cls) is not None, "stored by its declared types"

    @settings(
        max_examples=10, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
    )
    @given(events(cls))
    def round_trip(event: Any) -> None:
        stored: StoredEvent = mapper.to_stored_event(event)
        again = mapper.to_domain_event(stored)
        assert type(again) is cls
        assert_identical(vars(again), vars(event), cls.__qualname__)

    round_trip()


NESTED = (Order.Placed, CommissionAccrual.Matured, PolicyBook.Published)  # value objects inside


@pytest.fixture(scope="module")
def sealed_mapper() -> Iterator[TypedMapper]:
    """A mapper that compresses and enciphers what it stores."""
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.popo",
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(16),
    }
    application = EveryValueType(Runtime(ManualClock(datetime(2026, 11, 2, tzinfo=UTC)), env))
    assert isinstance(application.mapper, TypedMapper)
    assert application.mapper.compressor is not None
    assert application.mapper.cipher is not None
    yield application.mapper
    application.close()


@settings(max_examples=20)
@given(st.sampled_from(NESTED).flatmap(events))
def test_compressed_and_enciphered_events_read_in_either_format(
    sealed_mapper: TypedMapper, event: Any
) -> None:
    json_mapper: Mapper[UUID] = Mapper(
        sealed_mapper.transcoder, compressor=sealed_mapper.compressor, cipher=sealed_mapper.cipher
    )
    for stored in (sealed_mapper.to_stored_event(event), json_mapper.to_stored_event(event)):
        assert_identical(vars(sealed_mapper.to_domain_event(stored)), vars(event))
