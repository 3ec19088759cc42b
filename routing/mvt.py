"""Mapbox Vector Tile (specification 2.1) encoding on the protobuf runtime.

The message classes are made at import from the specification's ``vector_tile.proto``
schema (written out below as a descriptor), so encoding is done by Google's protobuf library;
this module only turns geometries already in tile units (``0..extent``, y down) into the
specification's command integers and deduplicates property keys and values per layer.

(``mapbox-vector-tile`` from PyPI cannot be installed beside ``gtfs-realtime-bindings``: it pins
protobuf < 7 while the bindings need >= 7.34.)
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from routing.kernels.tiles import encode_features

#: Geometry types of the specification.
POINT, LINESTRING = 1, 2
_MOVE_TO, _LINE_TO = 1, 2

_F = descriptor_pb2.FieldDescriptorProto


def _tile_class() -> Any:
    fdp = descriptor_pb2.FileDescriptorProto(name="citynav/vector_tile.proto",
                                             package="vector_tile", syntax="proto2")
    tile = fdp.message_type.add(name="Tile")
    geom = tile.enum_type.add(name="GeomType")
    for i, n in enumerate(("UNKNOWN", "POINT", "LINESTRING", "POLYGON")):
        geom.value.add(name=n, number=i)
    value = tile.nested_type.add(name="Value")
    for num, name, typ in ((1, "string_value", _F.TYPE_STRING), (2, "float_value", _F.TYPE_FLOAT),
                           (3, "double_value", _F.TYPE_DOUBLE), (4, "int_value", _F.TYPE_INT64),
                           (5, "uint_value", _F.TYPE_UINT64), (6, "sint_value", _F.TYPE_SINT64),
                           (7, "bool_value", _F.TYPE_BOOL)):
        value.field.add(name=name, number=num, type=typ, label=_F.LABEL_OPTIONAL)
    feat = tile.nested_type.add(name="Feature")
    feat.field.add(name="id", number=1, type=_F.TYPE_UINT64, label=_F.LABEL_OPTIONAL,
                   default_value="0")
    tags = feat.field.add(name="tags", number=2, type=_F.TYPE_UINT32, label=_F.LABEL_REPEATED)
    tags.options.packed = True
    feat.field.add(name="type", number=3, type=_F.TYPE_ENUM, label=_F.LABEL_OPTIONAL,
                   type_name=".vector_tile.Tile.GeomType", default_value="UNKNOWN")
    g = feat.field.add(name="geometry", number=4, type=_F.TYPE_UINT32, label=_F.LABEL_REPEATED)
    g.options.packed = True
    layer = tile.nested_type.add(name="Layer")
    layer.field.add(name="version", number=15, type=_F.TYPE_UINT32, label=_F.LABEL_REQUIRED,
                    default_value="1")
    layer.field.add(name="name", number=1, type=_F.TYPE_STRING, label=_F.LABEL_REQUIRED)
    layer.field.add(name="features", number=2, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                    type_name=".vector_tile.Tile.Feature")
    layer.field.add(name="keys", number=3, type=_F.TYPE_STRING, label=_F.LABEL_REPEATED)
    layer.field.add(name="values", number=4, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                    type_name=".vector_tile.Tile.Value")
    layer.field.add(name="extent", number=5, type=_F.TYPE_UINT32, label=_F.LABEL_OPTIONAL,
                    default_value="4096")
    tile.field.add(name="layers", number=3, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                   type_name=".vector_tile.Tile.Layer")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("vector_tile.Tile"))


#: The ``vector_tile.Tile`` message class (parse tiles with ``Tile.FromString``).
Tile = _tile_class()


def zigzag(a: np.ndarray) -> np.ndarray:
    return (a << 1) ^ (a >> 63)


def line_commands(xy: np.ndarray) -> list[int] | None:
    """Command integers of one line (``xy``: ``[n, 2]`` integer tile coordinates, absolute),
    repeated points dropped; None when fewer than two distinct points remain."""
    d = np.diff(xy, axis=0)
    keep = np.any(d != 0, axis=1)
    if not keep.any():
        return None
    d = d[keep]
    out = np.empty(3 + 1 + 2 * len(d), dtype=np.int64)
    out[0] = (1 << 3) | _MOVE_TO
    out[1:3] = zigzag(xy[0].astype(np.int64))
    out[3] = (len(d) << 3) | _LINE_TO
    out[4:] = zigzag(d.astype(np.int64)).ravel()
    return out.tolist()


def grouped_line_commands(xy: np.ndarray, part_offsets: np.ndarray, part_group: np.ndarray
                          ) -> tuple[np.ndarray, list[list[int]]]:
    """Command integers of many lines at once, one multi-line feature per group.

    ``xy``: ``[n, 2]`` integer tile coordinates of all parts' points, part ``p`` being
    ``xy[part_offsets[p]:part_offsets[p + 1]]``; ``part_group[p]``: the group (feature) key
    of each part. Repeated points are dropped, parts left with fewer than two points too.
    Returns (the distinct group keys in order, the commands of each group's feature)."""
    keys, flat, bounds = grouped_line_geometry(xy, part_offsets, part_group)
    return keys, [flat[bounds[k]:bounds[k + 1]].tolist() for k in range(len(keys))]


def grouped_line_geometry(xy: np.ndarray, part_offsets: np.ndarray, part_group: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`grouped_line_commands` as flat arrays: (the distinct group keys in order, all
    groups' command integers one after the other, the ``len(keys) + 1`` offsets of each
    group's commands in them)."""
    xy = np.asarray(xy, dtype=np.int64)
    n_parts = len(part_offsets) - 1
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(1, np.int64))
    if n_parts <= 0 or len(xy) == 0:
        return empty
    lengths = np.diff(part_offsets)
    part_of = np.repeat(np.arange(n_parts), lengths)
    first = np.zeros(len(xy), bool)
    first[part_offsets[:-1][lengths > 0]] = True
    same = np.zeros(len(xy), bool)
    same[1:] = np.all(xy[1:] == xy[:-1], axis=1)
    keep = first | ~same
    xy, part_of = xy[keep], part_of[keep]
    counts = np.bincount(part_of, minlength=n_parts)
    ok = counts >= 2
    keep_pts = ok[part_of]
    xy, part_of = xy[keep_pts], part_of[keep_pts]
    # parts in group order (stable: a group's parts keep their order), points follow
    order = np.argsort(np.asarray(part_group)[ok], kind="stable")
    parts = np.flatnonzero(ok)[order]
    counts = counts[parts]
    if len(parts) == 0:
        return empty
    starts_old = np.concatenate([[0], np.cumsum(np.bincount(part_of, minlength=n_parts))])
    xy = xy[ranges(starts_old[parts], counts)]
    groups = np.asarray(part_group)[parts]
    new_group = np.ones(len(parts), bool)
    new_group[1:] = groups[1:] != groups[:-1]
    pstart = np.concatenate([[0], np.cumsum(counts)[:-1]])
    delta = np.empty_like(xy)
    delta[0] = xy[0]
    delta[1:] = xy[1:] - xy[:-1]
    delta[pstart[new_group]] = xy[pstart[new_group]]  # a feature's cursor starts at 0,0
    zz = zigzag(delta)
    # each part of k points takes 2k + 2 integers: MoveTo(1) x y LineTo(k-1) dx dy ...
    width = 2 * counts + 2
    off = np.concatenate([[0], np.cumsum(width)])
    out = np.empty(int(off[-1]), dtype=np.int64)
    out[off[:-1]] = (1 << 3) | _MOVE_TO
    out[off[:-1] + 3] = ((counts - 1) << 3) | _LINE_TO
    j = np.arange(len(xy)) - np.repeat(pstart, counts)
    pos = np.repeat(off[:-1], counts) + 1 + 2 * j + (j > 0)
    out[pos] = zz[:, 0]
    out[pos + 1] = zz[:, 1]
    gstart = np.flatnonzero(new_group)
    bounds = np.concatenate([off[gstart], [off[-1]]])
    return groups[gstart], out, bounds


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + c)`` for each start and count."""
    total = int(counts.sum())
    base = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return base + np.arange(total)


def point_commands(xy: np.ndarray) -> list[int]:
    """Command integers of points (``xy``: ``[n, 2]`` integer tile coordinates)."""
    cursor = np.zeros(2, dtype=np.int64)
    out = [(len(xy) << 3) | _MOVE_TO]
    for x, y in xy.astype(np.int64):
        dx, dy = x - cursor[0], y - cursor[1]
        out += [int((dx << 1) ^ (dx >> 63)), int((dy << 1) ^ (dy >> 63))]
        cursor[:] = (x, y)
    return out


@dataclass
class LayerBuilder:
    """Features of one layer, with shared key and value tables."""

    name: str
    extent: int = 4096
    _keys: dict[str, int] = field(default_factory=dict)
    _values: dict[tuple[str, Any], int] = field(default_factory=dict)
    _features: list[tuple[int, list[int], list[int]]] = field(default_factory=list)

    def add(self, geom_type: int, commands: Sequence[int],
            properties: Mapping[str, str | int | float | bool | None]) -> None:
        """Add a feature (``geom_type`` :data:`POINT` or :data:`LINESTRING`); properties
        that are None are left out."""
        tags: list[int] = []
        for k, v in properties.items():
            if v is None:
                continue
            ki = self._keys.setdefault(k, len(self._keys))
            key = (type(v).__name__, v)
            vi = self._values.setdefault(key, len(self._values))
            tags += (ki, vi)
        self._features.append((geom_type, list(commands), tags))

    def __len__(self) -> int:
        return len(self._features)

    def fill(self, layer: Any) -> None:
        """Write the layer into a ``Tile.Layer`` message."""
        layer.version, layer.name, layer.extent = 2, self.name, self.extent
        layer.keys.extend(self._keys)
        for (kind, v), _ in sorted(self._values.items(), key=lambda kv: kv[1]):
            val = layer.values.add()
            if kind == "bool":
                val.bool_value = v
            elif kind == "int":
                if v < 0:
                    val.sint_value = v
                else:
                    val.uint_value = v
            elif kind == "float":
                val.double_value = v
            else:
                val.string_value = str(v)
        for i, (t, cmds, tags) in enumerate(self._features):
            f = layer.features.add()
            f.id, f.type = i + 1, t
            f.tags.extend(tags)
            f.geometry.extend(cmds)


def encode(layers: Iterable[LayerBuilder]) -> bytes:
    """The tile's bytes (empty layers are left out)."""
    tile = Tile()
    for lb in layers:
        if len(lb):
            lb.fill(tile.layers.add())
    return tile.SerializeToString()


# --- Array encoder -------------------------------------------------------------------------
# The protobuf wire format written directly from arrays, for tiles with many features: the
# features are written by a numba kernel (routing.kernels.tiles.encode_features), the key
# and value tables come pre-encoded. Parsing the result with :data:`Tile` gives the message
# :func:`encode` gives for the same features (tests/routing/test_mvt.py checks).

_WT_VARINT, _WT_LEN = 0, 2


def _tag(field_no: int, wire_type: int) -> int:
    return (field_no << 3) | wire_type


def _varint(i: int) -> bytes:
    out = bytearray()
    while i > 0x7F:
        out.append((i & 0x7F) | 0x80)
        i >>= 7
    out.append(i)
    return bytes(out)


def _len_field(field_no: int, payload: bytes) -> bytes:
    return _varint(_tag(field_no, _WT_LEN)) + _varint(len(payload)) + payload


def key_field(key: str) -> bytes:
    """A layer's ``keys`` entry (field 3) for ``key``, to pass to :func:`encode_layer`."""
    return _len_field(3, key.encode())


def value_field(v: str | int | float | bool) -> bytes:
    """A layer's ``values`` entry (field 4) for ``v``, as :meth:`LayerBuilder.fill` types it
    (bool, uint or sint for ints, double for floats, else string)."""
    if isinstance(v, bool):
        msg = _varint(_tag(7, _WT_VARINT)) + _varint(int(v))
    elif isinstance(v, int):
        msg = (_varint(_tag(6, _WT_VARINT)) + _varint(-2 * v - 1)  # zigzag of v < 0
               if v < 0 else _varint(_tag(5, _WT_VARINT)) + _varint(v))
    elif isinstance(v, float):
        msg = _varint(_tag(3, 1)) + struct.pack("<d", v)  # fixed64
    else:
        msg = _len_field(1, str(v).encode())
    return _len_field(4, msg)


def encode_layer(name: str, extent: int, geom_type: np.ndarray, geometry: np.ndarray,
                 geometry_offsets: np.ndarray, tags: np.ndarray, tag_offsets: np.ndarray,
                 keys: bytes, values: bytes) -> bytes:
    """One ``Tile.Layer`` field (the bytes to join into a tile) from arrays: feature ``f``
    (``id`` ``f + 1``) has type ``geom_type[f]``, command integers
    ``geometry[geometry_offsets[f]:geometry_offsets[f + 1]]`` and tags
    ``tags[tag_offsets[f]:tag_offsets[f + 1]]`` (key, value index pairs into the layer's
    tables); ``keys`` and ``values``: the tables' entries (:func:`key_field`,
    :func:`value_field`) one after the other. Empty when there are no features."""
    if len(geom_type) == 0:
        return b""
    features = encode_features(np.asarray(geom_type, dtype=np.int64),
                               np.asarray(geometry, dtype=np.int64),
                               np.asarray(geometry_offsets, dtype=np.int64),
                               np.asarray(tags, dtype=np.int64),
                               np.asarray(tag_offsets, dtype=np.int64))
    body = (_varint(_tag(15, _WT_VARINT)) + _varint(2) + _len_field(1, name.encode())
            + features.tobytes() + keys + values
            + _varint(_tag(5, _WT_VARINT)) + _varint(extent))
    return _len_field(3, body)
