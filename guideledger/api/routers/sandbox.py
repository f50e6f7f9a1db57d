"""The sandbox clock, for integrators (as Stripe's test clocks are for billing): with
`GUIDELEDGER_CLOCK=manual` the service's time moves only when an admin moves it, so an
integration can walk an order past its payment window or a month to its close.

The clock is the whole deployment's, every tenant's: the group's admins and the
platform's move it; every caller may read it. Production does not serve these routes
(`create_app` leaves them out, so they answer 404), and refuses a manual clock anyway.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, Field

from guideledger.api.auth import Role, current_caller
from guideledger.api.dependencies import ClockDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import StrictModel
from guideledger.api.tenancy import allow
from guideledger.platform.sandbox_clock import ClockNotManual, SandboxClock

router = APIRouter()


class MoveClock(StrictModel):
    now: AwareDatetime = Field(description="The new instant; an earlier one is refused (422)")


class ClockReading(BaseModel):
    now: datetime


@router.get(
    "/sandbox/clock",
    operation_id="getSandboxClock",
    dependencies=[Depends(current_caller)],
    tags=["sandbox"],
    responses=PROBLEM_RESPONSES,
)
def get_sandbox_clock(clock: ClockDep) -> ClockReading:
    """The instant the service acts as of: the sandbox clock's, or the wall clock's when
    the service runs on the wall clock."""
    return ClockReading(now=clock.now())


@router.post(
    "/sandbox/clock",
    operation_id="moveSandboxClock",
    dependencies=[Depends(allow(Role.PLATFORM_ADMIN))],  # and the groups' admins
    tags=["sandbox"],
    responses=PROBLEM_RESPONSES,
)
def move_sandbox_clock(body: MoveClock, clock: ClockDep) -> ClockReading:
    """Moves the sandbox clock forward to `now` for every process of the service (moving
    it to where it is changes nothing). 409 when the service runs on the wall clock."""
    if not isinstance(clock, SandboxClock):
        raise ClockNotManual(
            "the service runs on the wall clock: start it with "
            "GUIDELEDGER_CLOCK=manual to move time by hand"
        )
    return ClockReading(now=clock.move_to(body.now))
