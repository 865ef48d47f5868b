"""Small boolean expressions over a decision's flags, so conditions stay printable data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Condition:
    """Base: holds for every decision."""

    def holds(self, flags: frozenset[str]) -> bool:
        return True

    def describe(self) -> str:
        return "always"


ALWAYS = Condition()


@dataclass(frozen=True)
class Flag(Condition):
    name: str

    def holds(self, flags: frozenset[str]) -> bool:
        return self.name in flags

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class Not(Condition):
    inner: Condition

    def holds(self, flags: frozenset[str]) -> bool:
        return not self.inner.holds(flags)

    def describe(self) -> str:
        return f"not {self.inner.describe()}"


@dataclass(frozen=True)
class AllOf(Condition):
    parts: tuple[Condition, ...]

    def holds(self, flags: frozenset[str]) -> bool:
        return all(p.holds(flags) for p in self.parts)

    def describe(self) -> str:
        return " and ".join(p.describe() for p in self.parts)


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def holds(self, flags: frozenset[str]) -> bool:
        return any(p.holds(flags) for p in self.parts)

    def describe(self) -> str:
        return "(" + " or ".join(p.describe() for p in self.parts) + ")"


NEVER = Not(ALWAYS)


def flag(name: str) -> Flag:
    return Flag(name)


def any_of(*parts: Condition) -> AnyOf:
    return AnyOf(tuple(parts))


def all_of(*parts: Condition) -> AllOf:
    return AllOf(tuple(parts))


def flagset(flags: Iterable[str]) -> frozenset[str]:
    return frozenset(flags)
