"""WZDx and DATEX II documents authored over the bundled city (northern Kentucky) for the
import tests: builders that put real street coordinates into each standard's structures."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime.now(UTC).replace(microsecond=0)


def z(t: datetime) -> str:
    """RFC 3339 UTC text."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


START = z(NOW - timedelta(days=1))
END = z(NOW + timedelta(days=10))


def wzdx_feature(fid: str, coords: Sequence[Sequence[float]], *, version: str,
                 event_type: str = "work-zone", **props: Any) -> dict[str, Any]:
    """A WZDx 4.2 RoadEventFeature on ``coords`` (a LineString, travel order)."""
    base: dict[str, Any] = {
        "core_details": {"data_source_id": "1", "event_type": event_type,
                         "road_names": ["Madison Avenue"], "direction": "northbound",
                         "description": f"Work zone {fid}", "update_date": version},
        "start_date": START, "end_date": END,
        "is_start_date_verified": True, "is_end_date_verified": False,
        "is_start_position_verified": False, "is_end_position_verified": False,
        "location_method": "channel-device-method", "vehicle_impact": "unknown"}
    base.update(props)
    return {"id": fid, "type": "Feature", "properties": base,
            "geometry": {"type": "LineString", "coordinates": [list(p) for p in coords]}}


def wzdx_doc(*features: dict[str, Any]) -> dict[str, Any]:
    """A WZDx 4.2 WorkZoneFeed of ``features``."""
    return {"feed_info": {"update_date": z(NOW), "publisher": "KYTC", "version": "4.2",
                          "data_sources": [{"data_source_id": "1",
                                            "organization_name": "KYTC"}]},
            "type": "FeatureCollection", "features": list(features)}


# ---------------------------------------------------------------------------------------------
# DATEX II 2.x
# ---------------------------------------------------------------------------------------------
def _pt(lon: float, lat: float) -> str:
    return (f"<pointCoordinates><latitude>{lat:.7f}</latitude><longitude>{lon:.7f}"
            "</longitude></pointCoordinates>")


def v2_tpeg(a: Sequence[float], b: Sequence[float]) -> str:
    """A 2.x Linear location by TPEG from/to coordinates."""
    return ('<groupOfLocations xsi:type="Linear"><tpegLinearLocation>'
            "<tpegDirection>northBound</tpegDirection>"
            "<tpegLinearLocationType>segment</tpegLinearLocationType>"
            f'<to xsi:type="TpegNonJunctionPoint">{_pt(*b)}</to>'
            f'<from xsi:type="TpegNonJunctionPoint">{_pt(*a)}</from>'
            "</tpegLinearLocation></groupOfLocations>")


def v2_point(p: Sequence[float]) -> str:
    """A 2.x Point location by coordinates."""
    return (f'<groupOfLocations xsi:type="Point"><pointByCoordinates>{_pt(*p)}'
            "</pointByCoordinates></groupOfLocations>")


def v2_alertc(table: str, primary: str, secondary: str) -> str:
    """A 2.x Linear ALERT-C method 2 location."""
    return ('<groupOfLocations xsi:type="Linear"><alertCLinear xsi:type="AlertCMethod2Linear">'
            "<alertCLocationCountryCode>1</alertCLocationCountryCode>"
            f"<alertCLocationTableNumber>{table}</alertCLocationTableNumber>"
            "<alertCLocationTableVersion>1.0</alertCLocationTableVersion>"
            "<alertCDirection><alertCDirectionCoded>positive</alertCDirectionCoded>"
            "</alertCDirection><alertCMethod2PrimaryPointLocation><alertCLocation>"
            f"<specificLocation>{primary}</specificLocation></alertCLocation>"
            "</alertCMethod2PrimaryPointLocation><alertCMethod2SecondaryPointLocation>"
            f"<alertCLocation><specificLocation>{secondary}</specificLocation>"
            "</alertCLocation></alertCMethod2SecondaryPointLocation></alertCLinear>"
            "</groupOfLocations>")


def v2_openlr_binary(points: Sequence[Sequence[float]]) -> str:
    """A 2.x Linear location carrying a binary OpenLR line (in the linear extension)."""
    return ('<groupOfLocations xsi:type="Linear"><linearExtension><openlrExtendedLinear>'
            "<firstDirection><openlrLineLocationReference><openlrBinary>"
            f"{encode_openlr_line(points)}</openlrBinary></openlrLineLocationReference>"
            "</firstDirection></openlrExtendedLinear></linearExtension></groupOfLocations>")


def v2_record(rid: str, kind: str, location: str, *, version: int = 1, severity: str = "high",
              extra: str = "", comment: str | None = None, end: str | None = END,
              management: str = "") -> str:
    """A 2.x situationRecord."""
    validity = (f"<validity><validityStatus>definedByValidityTimeSpec</validityStatus>"
                f"<validityTimeSpecification><overallStartTime>{START}</overallStartTime>"
                + (f"<overallEndTime>{end}</overallEndTime>" if end else "")
                + "</validityTimeSpecification></validity>")
    text = (f'<generalPublicComment><comment><values><value lang="en">{comment}</value>'
            f'<value lang="es">{comment} (es)</value></values></comment>'
            "</generalPublicComment>") if comment else ""
    return (f'<situationRecord xsi:type="{kind}" id="{rid}" version="{version}">'
            f"<situationRecordCreationTime>{START}</situationRecordCreationTime>"
            f"<situationRecordVersionTime>{z(NOW + timedelta(seconds=version))}"
            "</situationRecordVersionTime>"
            f"{management}<probabilityOfOccurrence>certain</probabilityOfOccurrence>"
            f"<severity>{severity}</severity>{validity}{text}{location}{extra}"
            "</situationRecord>")


def v2_doc(*situations: tuple[str, Sequence[str]]) -> bytes:
    """A 2.x d2LogicalModel SituationPublication of ``(situation id, records)``."""
    sits = "".join(f'<situation id="{sid}" version="1"><headerInformation>'
                   "<informationStatus>real</informationStatus></headerInformation>"
                   + "".join(recs) + "</situation>" for sid, recs in situations)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" modelBaseVersion="2">'
            "<exchange><supplierIdentification><country>us</country>"
            "<nationalIdentifier>KYTC</nationalIdentifier></supplierIdentification></exchange>"
            '<payloadPublication xsi:type="SituationPublication" lang="en">'
            f"<publicationTime>{z(NOW)}</publicationTime><publicationCreator>"
            "<country>us</country><nationalIdentifier>KYTC</nationalIdentifier>"
            f"</publicationCreator>{sits}</payloadPublication></d2LogicalModel>").encode()


# ---------------------------------------------------------------------------------------------
# DATEX II 3.x
# ---------------------------------------------------------------------------------------------
def v3_gml(points: Sequence[Sequence[float]]) -> str:
    """A 3.x linear location by a GML line (``lat lon`` pairs)."""
    pos = " ".join(f"{p[1]:.7f} {p[0]:.7f}" for p in points)
    return ('<sit:locationReference xsi:type="loc:SingleRoadLinearLocation">'
            f"<loc:gmlLineString><loc:posList>{pos}</loc:posList></loc:gmlLineString>"
            "</sit:locationReference>")


def v3_openlr_xml(points: Sequence[Sequence[float]]) -> str:
    """A 3.x linear location by OpenLR location reference points (XML)."""
    def lrp(tag: str, p: Sequence[float]) -> str:
        return (f"<loc:{tag}><loc:openlrCoordinates><loc:latitude>{p[1]:.7f}</loc:latitude>"
                f"<loc:longitude>{p[0]:.7f}</loc:longitude></loc:openlrCoordinates>"
                f"</loc:{tag}>")
    inner = "".join(lrp("openlrLocationReferencePoint", p) for p in points[:-1])
    inner += lrp("openlrLastLocationReferencePoint", points[-1])
    return ('<sit:locationReference xsi:type="loc:SingleRoadLinearLocation">'
            "<loc:openlrLinear><loc:firstDirection><loc:openlrLineLocationReference>"
            f"{inner}</loc:openlrLineLocationReference></loc:firstDirection>"
            "</loc:openlrLinear></sit:locationReference>")


def v3_record(rid: str, kind: str, location: str, *, version: int = 1,
              severity: str = "medium", extra: str = "") -> str:
    """A 3.x situationRecord."""
    return (f'<sit:situationRecord xsi:type="sit:{kind}" id="{rid}" version="{version}">'
            f"<sit:situationRecordCreationTime>{START}</sit:situationRecordCreationTime>"
            f"<sit:situationRecordVersionTime>{z(NOW)}</sit:situationRecordVersionTime>"
            f"<sit:probabilityOfOccurrence>certain</sit:probabilityOfOccurrence>"
            f"<sit:severity>{severity}</sit:severity><sit:validity>"
            "<com:validityStatus>definedByValidityTimeSpec</com:validityStatus>"
            f"<com:validityTimeSpecification><com:overallStartTime>{START}"
            f"</com:overallStartTime><com:overallEndTime>{END}</com:overallEndTime>"
            "</com:validityTimeSpecification></sit:validity><sit:generalPublicComment>"
            '<sit:comment><com:values><com:value lang="en">Authored over northern Kentucky'
            "</com:value></com:values></sit:comment></sit:generalPublicComment>"
            f"{location}{extra}</sit:situationRecord>")


def v3_doc(*situations: tuple[str, Sequence[str]]) -> bytes:
    """A 3.x d2Payload SituationPublication."""
    sits = "".join(f'<sit:situation id="{sid}">' + "".join(recs) + "</sit:situation>"
                   for sid, recs in situations)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<d2:payload xsi:type="sit:SituationPublication" lang="en" '
            'xmlns:com="http://datex2.eu/schema/3/common" '
            'xmlns:loc="http://datex2.eu/schema/3/locationReferencing" '
            'xmlns:d2="http://datex2.eu/schema/3/d2Payload" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:sit="http://datex2.eu/schema/3/situation">'
            f"<com:publicationTime>{z(NOW)}</com:publicationTime>{sits}"
            "</d2:payload>").encode()


# ---------------------------------------------------------------------------------------------
# OpenLR binary (physical format v3, line location; attributes left zero)
# ---------------------------------------------------------------------------------------------
def encode_openlr_line(points: Sequence[Sequence[float]]) -> str:
    """Base64 of an OpenLR binary line location through ``points`` ([lon, lat])."""
    def absolute(deg: float) -> bytes:
        sign = 1 if deg > 0 else -1 if deg < 0 else 0
        return round(sign * 0.5 + deg * (1 << 24) / 360.0).to_bytes(3, "big", signed=True)

    def relative(deg: float, prev: float) -> tuple[bytes, float]:
        v = round((deg - prev) * 100_000)
        return v.to_bytes(2, "big", signed=True), prev + v / 100_000

    out = bytearray([0x0B])
    out += absolute(points[0][0]) + absolute(points[0][1]) + bytes(3)
    a, b = int.from_bytes(out[1:4], "big", signed=True), int.from_bytes(out[4:7], "big",
                                                                       signed=True)
    plon = (a - (1 if a > 0 else -1 if a < 0 else 0) * 0.5) * 360.0 / (1 << 24)
    plat = (b - (1 if b > 0 else -1 if b < 0 else 0) * 0.5) * 360.0 / (1 << 24)
    for i, p in enumerate(points[1:], start=1):
        bx, plon = relative(p[0], plon)
        by, plat = relative(p[1], plat)
        out += bx + by + (bytes(3) if i < len(points) - 1 else bytes(2))
    return base64.b64encode(bytes(out)).decode()
