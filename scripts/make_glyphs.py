"""Make the map's label glyphs: signed-distance-field glyph ranges (the protobuf format
MapLibre GL loads from a style's ``glyphs`` URL) from a font the machine's packages ship.

Run by ``make vendor`` (needs the ``vendor`` extra: ``pip install -e ".[vendor]"``, i.e.
freetype-py, and Debian's ``fonts-dejavu-core``); the files it writes under
``api/static/glyphs/<font name>/<start>-<end>.pbf`` are committed, so serving needs neither.
Chinese text is not in these ranges: the pages set MapLibre's ``localIdeographFontFamily``, which
draws CJK characters with the browser's own fonts.

Each glyph is rendered by FreeType at 24 px, thresholded, and turned into a distance field
with a 3 px buffer (Euclidean distance transforms inside and outside, radius 8 px, cutoff 0.25,
the conventions of MapLibre's own SDF glyphs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from scipy.ndimage import distance_transform_edt

ROOT = Path(__file__).resolve().parent.parent
FONTS = {"DejaVu Sans": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
         "DejaVu Sans Bold": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")}
#: Latin, Latin-1, Latin Extended A/B, IPA and spacing modifiers, Greek, Cyrillic,
#: Latin Extended Additional (Vietnamese), general punctuation and symbols.
RANGES = (0, 256, 512, 768, 1024, 7680, 8192)
SIZE_PX, BUFFER_PX, RADIUS_PX, CUTOFF = 24, 3, 8.0, 0.25
#: MapLibre places a glyph's bitmap ``top`` pixels from the line's top; its local glyphs
#: use the glyph's ascent minus this adjustment, and these follow the same rule.
TOP_ADJUST_PX = 27

_F = descriptor_pb2.FieldDescriptorProto


def _glyphs_class():  # noqa: ANN202 - a generated message class
    fdp = descriptor_pb2.FileDescriptorProto(name="citynav/glyphs.proto", package="llmr.glyphs",
                                             syntax="proto2")
    g = fdp.message_type.add(name="glyph")
    g.field.add(name="id", number=1, type=_F.TYPE_UINT32, label=_F.LABEL_REQUIRED)
    g.field.add(name="bitmap", number=2, type=_F.TYPE_BYTES, label=_F.LABEL_OPTIONAL)
    for num, name, typ in ((3, "width", _F.TYPE_UINT32), (4, "height", _F.TYPE_UINT32),
                           (5, "left", _F.TYPE_SINT32), (6, "top", _F.TYPE_SINT32),
                           (7, "advance", _F.TYPE_UINT32)):
        g.field.add(name=name, number=num, type=typ, label=_F.LABEL_REQUIRED)
    st = fdp.message_type.add(name="fontstack")
    st.field.add(name="name", number=1, type=_F.TYPE_STRING, label=_F.LABEL_REQUIRED)
    st.field.add(name="range", number=2, type=_F.TYPE_STRING, label=_F.LABEL_REQUIRED)
    st.field.add(name="glyphs", number=3, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                 type_name=".llmr.glyphs.glyph")
    top = fdp.message_type.add(name="glyphs")
    top.field.add(name="stacks", number=1, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                  type_name=".llmr.glyphs.fontstack")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("llmr.glyphs.glyphs"))


Glyphs = _glyphs_class()


def sdf(coverage: np.ndarray) -> np.ndarray:
    """The distance field (uint8, ``BUFFER_PX`` bigger on each side) of a glyph's coverage
    bitmap (0..255)."""
    h, w = coverage.shape
    inside = np.zeros((h + 2 * BUFFER_PX, w + 2 * BUFFER_PX), bool)
    inside[BUFFER_PX:BUFFER_PX + h, BUFFER_PX:BUFFER_PX + w] = coverage >= 128
    outer = distance_transform_edt(~inside)  # outside pixels: distance to the glyph
    inner = distance_transform_edt(inside)  # inside pixels: distance to the outside
    d = np.where(inside, -(inner - 0.5), outer - 0.5)
    v = np.rint(255.0 - 255.0 * (d / RADIUS_PX + CUTOFF))
    return np.clip(v, 0, 255).astype(np.uint8)


def glyph_range(face: Any, name: str, start: int) -> bytes:
    """The encoded glyph range ``start..start+255`` of ``face`` (a ``freetype.Face`` set to
    ``SIZE_PX``)."""
    import freetype  # noqa: PLC0415 - only making glyphs needs it (the vendor extra)

    msg = Glyphs()
    stack = msg.stacks.add()
    stack.name, stack.range = name, f"{start}-{start + 255}"
    for cp in range(start, start + 256):
        if face.get_char_index(cp) == 0:
            continue
        face.load_char(cp, freetype.FT_LOAD_RENDER | freetype.FT_LOAD_TARGET_NORMAL)
        gs = face.glyph
        bm = gs.bitmap
        g = stack.glyphs.add()
        g.id = cp
        g.advance = int(round(gs.advance.x / 64))
        g.left = gs.bitmap_left
        g.top = gs.bitmap_top - TOP_ADJUST_PX
        if bm.width == 0 or bm.rows == 0:
            g.width = g.height = 0
            continue
        cov = np.array(bm.buffer, dtype=np.uint8).reshape(bm.rows, bm.pitch)[:, :bm.width]
        g.width, g.height = bm.width, bm.rows
        g.bitmap = sdf(cov).tobytes()
    return msg.SerializeToString()  # type: ignore[no-any-return]


def main() -> None:
    """Write the glyph ranges of :data:`FONTS` and a manifest."""
    import freetype  # noqa: PLC0415 - the vendor extra

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "api" / "static" / "glyphs")
    args = ap.parse_args()
    manifest: dict[str, dict[str, object]] = {}
    for name, path in FONTS.items():
        if not path.is_file():
            raise SystemExit(f"make_glyphs: {path} is missing (Debian: apt-get install "
                             "fonts-dejavu-core)")
        face = freetype.Face(str(path))
        face.set_pixel_sizes(0, SIZE_PX)
        d = args.out / name
        d.mkdir(parents=True, exist_ok=True)
        files = {}
        for start in RANGES:
            data = glyph_range(face, name, start)
            (d / f"{start}-{start + 255}.pbf").write_bytes(data)
            files[f"{start}-{start + 255}.pbf"] = len(data)
        manifest[name] = {"font": str(path), "size_px": SIZE_PX, "buffer_px": BUFFER_PX,
                          "ranges": files}
        print(f"glyphs: {name} -> {d} ({len(files)} ranges)")
    licence = Path("/usr/share/doc/fonts-dejavu-core/copyright")
    if licence.is_file():
        (args.out / "LICENSE-DejaVu.txt").write_bytes(licence.read_bytes())
    (args.out / "MANIFEST.json").write_text(json.dumps(
        {"generated_by": "scripts/make_glyphs.py", "fonts": manifest}, indent=2) + "\n")


if __name__ == "__main__":
    main()
