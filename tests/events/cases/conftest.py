"""The closed loop's test world, as a fixture for every case test."""

from tests.events.cases.world import world as world
