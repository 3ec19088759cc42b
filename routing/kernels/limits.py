"""Weight constants shared by every road kernel and the layers above them."""

from __future__ import annotations

#: Weight (ms) of a closed edge or arc: the kernels treat it as infinite.
INF_WEIGHT = 2_147_483_647
#: Largest weight (ms) of an open edge.
MAX_FINITE_WEIGHT = INF_WEIGHT - 1
