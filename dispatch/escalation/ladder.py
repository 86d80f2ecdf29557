"""The escalation chain (pure): who is told when a case nears or passes its deadline.

A step fires once per assignment when the working time used reaches `at_fraction` of the time
allowed, plus `delay_hours` of working time: by default the department at 80 %, its supervisors
at 100 %, dispatchers and managers 4 working hours after that.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from dispatch.deadlines import WorkCalendar, add_working_hours

# Escalation starts where the traffic light turns yellow: the scheduler looks only at cases past
# their warning time (an indexed column), so no step may come earlier.
EARLIEST_FRACTION = 0.8


class Recipient(enum.StrEnum):
    DEPARTMENT = "department"  # the members of the case's department
    SUPERVISORS = "supervisors"  # the department's supervisors
    DISPATCHERS = "dispatchers"
    MANAGERS = "managers"


MAX_ESCALATION_STEPS = 10


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    at_fraction: float = Field(ge=EARLIEST_FRACTION, le=10.0)
    delay_hours: float = Field(default=0.0, ge=0, le=24 * 365)  # working hours
    notify: list[Recipient] = Field(min_length=1)


class EscalationChain(BaseModel):
    model_config = ConfigDict(frozen=True)

    steps: list[EscalationStep] = Field(min_length=1, max_length=MAX_ESCALATION_STEPS)

    @model_validator(mode="after")
    def names_unique_and_in_order(self) -> EscalationChain:
        names = [step.step for step in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"escalation step names must be unique, got {names}")
        keys = [(step.at_fraction, step.delay_hours) for step in self.steps]
        if keys != sorted(keys):
            raise ValueError("escalation steps must be in the order they fire")
        return self


DEFAULT_CHAIN = EscalationChain(
    steps=[
        EscalationStep(step="warning", at_fraction=0.8, notify=[Recipient.DEPARTMENT]),
        EscalationStep(step="overdue", at_fraction=1.0, notify=[Recipient.SUPERVISORS]),
        EscalationStep(
            step="escalated",
            at_fraction=1.0,
            delay_hours=4.0,
            notify=[Recipient.DISPATCHERS, Recipient.MANAGERS],
        ),
    ]
)
STEPS_ADAPTER = TypeAdapter(list[EscalationStep])


def parse_chain(raw: list[dict[str, object]] | None) -> EscalationChain:
    """The chain from a rule set's `escalation` list; the default when it is empty or absent."""
    if not raw:
        return DEFAULT_CHAIN
    return EscalationChain(steps=STEPS_ADAPTER.validate_python(raw))


def step_threshold(
    step: EscalationStep,
    *,
    dispatched_at: datetime,
    allowed_hours: float,
    suspended_hours: float,
    calendar: WorkCalendar,
) -> datetime:
    """The moment the working time used reaches the step's point: `at_fraction` of the time
    allowed plus `delay_hours`, counted from the dispatch; time spent suspended does not count,
    so it is added on top."""
    hours = step.at_fraction * allowed_hours + step.delay_hours + suspended_hours
    return add_working_hours(dispatched_at, hours, calendar).at


def step_thresholds(
    chain: EscalationChain,
    *,
    dispatched_at: datetime,
    allowed_hours: float,
    suspended_hours: float,
    calendar: WorkCalendar,
) -> dict[str, datetime]:
    """Each step's threshold by step name (see `step_threshold`)."""
    return {
        step.step: step_threshold(
            step,
            dispatched_at=dispatched_at,
            allowed_hours=allowed_hours,
            suspended_hours=suspended_hours,
            calendar=calendar,
        )
        for step in chain.steps
    }


def due_steps(
    chain: EscalationChain,
    fired: AbstractSet[str],
    thresholds: Mapping[str, datetime],
    now: datetime,
) -> list[EscalationStep]:
    """The steps not fired yet whose threshold has passed by `now`, in chain order."""
    return [step for step in chain.steps if step.step not in fired and thresholds[step.step] <= now]


def describe_step(step: EscalationStep) -> str:
    """What reaching the step means, in words, for a notice's title."""
    delay = f"{step.delay_hours:g} working hours"
    if step.at_fraction == 1.0:
        reached = f"overdue by {delay}" if step.delay_hours else "overdue"
    else:
        reached = f"{step.at_fraction * 100:g} % of the time limit used"
        reached += f", then {delay}" if step.delay_hours else ""
    return f"{reached} [{step.step}]"
