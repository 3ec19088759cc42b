"""Fast GeoJSON encoding of the congestion layer (whole-city maps are tens of thousands of
features: coordinates are encoded once per edge and reused)."""

from __future__ import annotations

import json
import threading

from routing.congestion import LEVELS, CongestionEdges, CongestionMap


class CongestionGeoJSON:
    """Encodes :class:`routing.congestion.CongestionEdges` as a FeatureCollection."""

    def __init__(self, cmap: CongestionMap, names: list[str]) -> None:
        self.cmap = cmap
        self.names = names
        self._coords: dict[int, str] = {}
        self._lock = threading.Lock()

    def _coords_of(self, e: int) -> str:
        c = self._coords.get(e)
        if c is None:
            m = self.cmap
            s = int(m.edge_seg[e])
            a, b = int(m.seg_gstart[s]), int(m.seg_gend[s])
            pts = [[round(float(x), 6), round(float(y), 6)]
                   for x, y in zip(m.seg_lon[a:b], m.seg_lat[a:b], strict=True)]
            if m.edge_rev[e]:
                pts.reverse()
            c = json.dumps(pts, separators=(",", ":"))
            with self._lock:
                self._coords[e] = c
        return c

    def encode(self, sel: CongestionEdges, feed_info: dict | None = None) -> bytes:
        """JSON bytes of the FeatureCollection (with ``live_version``, ``at`` and, when
        given, the open-data ``feed_info``)."""
        parts = []
        level = sel.level.tolist()
        speed = [round(x, 1) for x in sel.speed_kmh.tolist()]
        free = [round(x, 1) for x in sel.free_flow_kmh.tolist()]
        delay = [round(x, 1) for x in sel.delay_s.tolist()]
        nidx = sel.name_idx.tolist()
        ways = sel.way_id.tolist()
        revs = sel.backward.tolist()
        names = self.names
        for k, e in enumerate(sel.edge.tolist()):
            props = (f'{{"edge":{e},"level":"{LEVELS[level[k]]}","speed_kmh":{speed[k]},'
                     f'"free_flow_kmh":{free[k]},"delay_s":{delay[k]},'
                     f'"name":{json.dumps(names[nidx[k]]) if nidx[k] >= 0 else "null"},'
                     f'"way_id":{ways[k]},"direction":"{"backward" if revs[k] else "forward"}",'
                     f'"causes":{json.dumps(list(sel.causes[k]))},'
                     f'"source":{json.dumps(sel.source_name(k))}}}')
            parts.append(f'{{"type":"Feature","geometry":{{"type":"LineString","coordinates":'
                         f'{self._coords_of(e)}}},"properties":{props}}}')
        info = "" if feed_info is None else f'"feed_info":{json.dumps(feed_info)},'
        head = (f'{{"type":"FeatureCollection",{info}"live_version":{sel.live_version},'
                f'"at":{json.dumps(sel.at.isoformat())},"features":[')
        return (head + ",".join(parts) + "]}").encode()
