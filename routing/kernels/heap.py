"""A binary min-heap of (int64 key, int64 value) pairs in two preallocated arrays (numba), for
the Dijkstra-style kernels: lazy deletion, so a value may sit in the heap several times."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def heap_push(hk: np.ndarray, hv: np.ndarray, n: int, key: int | np.integer[Any],
              val: int | np.integer[Any]) -> int:
    """Add ``(key, val)`` to the heap of ``n`` entries; returns the new size."""
    i = n
    hk[i] = key
    hv[i] = val
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= hk[i]:
            break
        hk[p], hk[i] = hk[i], hk[p]
        hv[p], hv[i] = hv[i], hv[p]
        i = p
    return n + 1


@njit(cache=True, nogil=True)
def heap_pop(hk: np.ndarray, hv: np.ndarray, n: int) -> int:
    """Drop the smallest entry (read it from ``hk[0]`` / ``hv[0]`` first); returns the new
    size."""
    n -= 1
    hk[0] = hk[n]
    hv[0] = hv[n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        c = left
        if left + 1 < n and hk[left + 1] < hk[left]:
            c = left + 1
        if hk[i] <= hk[c]:
            break
        hk[c], hk[i] = hk[i], hk[c]
        hv[c], hv[i] = hv[i], hv[c]
        i = c
    return n
