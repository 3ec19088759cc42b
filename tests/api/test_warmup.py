"""The warm-up's kernel census: helpers called only from other kernels are not reported as
"compiling on first use" (numba compiles them into their callers)."""

from __future__ import annotations

from numba import njit

from api.warmup import kernels, uncached


@njit
def _helper(x: int) -> int:
    return x + 1


@njit
def _caller(x: int) -> int:
    return _helper(x) * 2


@njit
def _alone(x: int) -> int:
    return x - 1


def test_helpers_of_other_kernels_are_not_counted_as_uncached() -> None:
    # uncompiled, uncached (no cache=True): the caller and the lone kernel are listed,
    # the helper only its caller uses is not
    assert uncached([_caller, _helper, _alone]) == [_caller, _alone]
    assert _caller(1) == 4


def test_census_finds_the_routing_kernels() -> None:
    names = {d.__qualname__ for d in kernels()}
    assert {"branch_marks", "step_candidates"} <= names
