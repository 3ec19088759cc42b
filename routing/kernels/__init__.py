"""Shortest-path kernels: array in, array out; no pandas, shapely, networkx or web types."""
