"""GTFS-Realtime in and out: decode and validate feeds, match them to the timetable, encode.

Modules: :mod:`gtfs.realtime.decode` (bytes -> validated :class:`DecodedFeed`, or
:class:`FeedRejected`), :mod:`gtfs.realtime.match` (feed ids -> timetable trips, stops, routes,
service dates), :mod:`gtfs.realtime.trip_updates` (TripUpdates -> :class:`~gtfs.live.TransitLive`
with a report), :mod:`gtfs.realtime.alerts` (typed ServiceAlerts and the service they remove),
:mod:`gtfs.realtime.vehicles` (typed latest vehicle positions), :mod:`gtfs.realtime.encode`
(TripUpdates from a TransitLive and ServiceAlerts out, protobuf or JSON).

No HTTP, no store, no routing imports: polling and publishing live above this layer. Every
clock is the caller's (``now`` in Unix seconds), so recorded feeds replay as they were.
"""
