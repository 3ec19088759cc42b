/* The commuter map (/): search or click origin and destination, plan by car, bike, walk or
   transit, see routes, steps, ETAs and why; stop departures and incidents on the map. */
"use strict";

(() => {
  const { t, api, el, fmtDuration, fmtKm, fmtTime } = CN;
  const $ = (id) => document.getElementById(id);
  const state = { origin: null, destination: null, mode: "car", result: null, selected: 0,
                  markers: {}, found: { from: new Map(), to: new Map() } };
  const map = CN.newMap("map");
  window.citynavMap = map;  // for debugging and the browser tests

  // ------------------------------------------------------------------ language
  $("lang").value = CN.lang;
  $("lang").addEventListener("change", (e) => CN.setLang(e.target.value));
  CN.onLang(() => { if (state.result) plan(); });
  CN.applyTranslations();

  // ------------------------------------------------------------------ places
  /* keepText: leave the field's text alone (the user is in it, maybe with its text selected
     to type over: writing the value would drop that selection and garble what they type). */
  function setPlace(which, place, keepText) {
    state[which] = place;
    if (!keepText) $(which === "origin" ? "from" : "to").value = place ? place.name : "";
    if (state.markers[which]) state.markers[which].remove();
    if (place) {
      const m = new maplibregl.Marker({ element: el("div", { class: `marker ${which}`,
        title: t(which) }) }).setLngLat([place.lon, place.lat]).addTo(map);
      state.markers[which] = m;
    }
  }
  function parseLatLon(text) {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
    return m ? { lat: +m[1], lon: +m[2], name: text.trim() } : null;
  }
  async function resolve(input, key) {
    const text = input.value.trim();
    if (!text) return null;
    const direct = parseLatLon(text);
    if (direct) return direct;
    if (state.found[key].has(text)) return state.found[key].get(text);
    const c = map.getCenter();
    const { body } = await api(`/v1/geocode?q=${encodeURIComponent(text)}&limit=1&near=${c.lat},${c.lng}`);
    if (!body.results.length) throw new Error(`“${text}”: ${t("noRoute")}`);
    const r = body.results[0];
    return { lat: r.lat, lon: r.lon, name: shownName(r) };
  }
  /* A result's name as the user typed it: the Chinese or English name of a place when the
     query matched that one. */
  function shownName(r) { return (r.matched && r[r.matched]) || r.name; }
  function suggest(input, list, key) {
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2 || parseLatLon(q)) return;
      timer = setTimeout(async () => {
        const c = map.getCenter();
        const { body } = await api(`/v1/geocode?q=${encodeURIComponent(q)}&limit=8&near=${c.lat},${c.lng}`);
        list.replaceChildren(...body.results.map((r) => {
          const name = shownName(r);
          state.found[key].set(name, { lat: r.lat, lon: r.lon, name });
          return el("option", { value: name }, r.kind === "place" ? r.category : r.kind);
        }));
      }, 200);
    });
    input.addEventListener("change", async () => {
      const typed = input.value;
      try {
        const p = await resolve(input, key);
        // The user typed on (or planned) while this looked up: a later change resolves that;
        // writing this stale answer into the field would garble what they typed.
        if (input.value !== typed) return;
        setPlace(key === "from" ? "origin" : "destination", p, document.activeElement === input);
        if (p) map.easeTo({ center: [p.lon, p.lat] });
      } catch (e) { showError(e); }
    });
  }
  suggest($("from"), $("from-list"), "from");
  suggest($("to"), $("to-list"), "to");
  $("swap").addEventListener("click", () => {
    const o = state.origin, d = state.destination;
    setPlace("origin", d); setPlace("destination", o);
  });

  async function placeFromClick(lngLat) {
    let name = `${lngLat.lat.toFixed(5)},${lngLat.lng.toFixed(5)}`;
    try {
      const { body } = await api(`/v1/reverse?at=${lngLat.lat},${lngLat.lng}`);
      name = body.street || body.name || name;
    } catch (e) { /* unnamed place: keep the coordinates */ }
    return { lat: lngLat.lat, lon: lngLat.lng, name };
  }

  // ------------------------------------------------------------------ mode and time
  const tabs = [...document.querySelectorAll("#modes [role=tab]")];
  function selectMode(btn) {
    tabs.forEach((b) => {
      const on = b === btn;
      b.setAttribute("aria-selected", on); b.tabIndex = on ? 0 : -1;
    });
    state.mode = btn.dataset.mode;
    updateWhen();
  }
  tabs.forEach((b, i) => {
    b.addEventListener("click", () => { selectMode(b); if (state.origin && state.destination) plan(); });
    b.addEventListener("keydown", (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (d) { const n = tabs[(i + d + tabs.length) % tabs.length]; n.focus(); selectMode(n); }
    });
  });
  function updateWhen() {
    const w = $("when").value;
    $("time").hidden = w === "now";
    $("when-note").hidden = !(w === "arrive" && state.mode !== "transit");
  }
  $("when").addEventListener("change", updateWhen);

  // ------------------------------------------------------------------ map layers
  map.on("load", () => {
    map.addSource("routes", { type: "geojson", data: CN.EMPTY });
    map.addSource("itin", { type: "geojson", data: CN.EMPTY });
    map.addSource("incidents", { type: "geojson", data: CN.EMPTY });
    map.addSource("congestion", { type: "geojson", data: CN.EMPTY });
    map.addLayer({ id: "congestion", type: "line", source: "congestion",
      paint: { "line-width": 4, "line-offset": 2, "line-color": ["match", ["get", "level"],
        "slow", "#f5a623", "heavy", "#e4572e", "standstill", "#8b0000", "closed", "#222",
        "#4caf50"] } });
    map.addLayer({ id: "route-alt", type: "line", source: "routes", filter: ["!", ["get", "sel"]],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": "#8e99ad", "line-width": 5, "line-opacity": 0.8 } });
    map.addLayer({ id: "route-casing", type: "line", source: "routes", filter: ["get", "sel"],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": "#0d3a8a", "line-width": 9 } });
    map.addLayer({ id: "route-sel", type: "line", source: "routes", filter: ["get", "sel"],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": "#2f7bff", "line-width": 6 } });
    map.addLayer({ id: "itin-walk", type: "line", source: "itin", filter: ["==", ["get", "mode"], "walk"],
      paint: { "line-color": "#555", "line-width": 3, "line-dasharray": [1, 1.5] } });
    map.addLayer({ id: "itin-transit", type: "line", source: "itin", filter: ["!=", ["get", "mode"], "walk"],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": ["get", "color"], "line-width": 6 } });
    map.addLayer({ id: "incident-lines", type: "line", source: "incidents",
      filter: ["!=", ["geometry-type"], "Point"],
      paint: { "line-color": "#c62828", "line-width": 5, "line-dasharray": [2, 1] } });
    map.addLayer({ id: "incident-points", type: "circle", source: "incidents",
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": "#c62828", "circle-radius": 7, "circle-stroke-color": "#fff",
               "circle-stroke-width": 2 } });
    refreshIncidents();
    // live layers follow the server's change stream; polling when it is unavailable
    state.live = CN.live({ types: ["state", "incident"], pollMs: 15000,
      poll: () => refreshIncidents(), onEvent: (type, d) => {
        if (type === "state" && d.data) {
          setLiveVersion(d.data.live_version);
          // new realtime data (delays, cancellations, alerts) or incidents: plan again
          const rt = `${d.data.realtime_version}/${d.data.incident_seq}`;
          if (state.rtSeen !== undefined && rt !== state.rtSeen && state.result) replanSoon();
          state.rtSeen = rt;
        } else liveChanged();
      } });
    map.on("moveend", refreshCongestion);
    document.body.dataset.ready = "1";
  });

  /* The live layers' URLs carry the live-state version, so the browser never answers a new
     version from its cache (within one version the server's ETag revalidates). */
  const liveChanged = CN.debounce(() => { refreshIncidents(); refreshCongestion(); }, 250);
  const replanSoon = CN.debounce(() => plan(true), 300);
  function setLiveVersion(v) {
    if (v === undefined || v === null || v === state.liveVersion) return;
    state.liveVersion = v;
    document.body.dataset.liveVersion = String(v);
    liveChanged();
  }
  async function refreshIncidents() {
    try {
      const v = state.liveVersion;
      const { body } = await api(`/v1/incidents?status=active&limit=500${v !== undefined ? `&live=${v}` : ""}`);
      CN.setData(map, "incidents", body);
      if (body.live_version !== undefined && state.liveVersion === undefined) {
        state.liveVersion = body.live_version;
      } else if (body.live_version !== undefined && body.live_version !== state.liveVersion) {
        setLiveVersion(body.live_version);  // polling noticed a new version
      }
    } catch (e) { /* incidents disabled on this server */ }
  }
  async function refreshCongestion() {
    if (map.getZoom() < 13) { CN.setData(map, "congestion", CN.EMPTY); return; }
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5));
    const v = state.liveVersion;
    try {
      const { body } = await api(`/v1/congestion?min_level=slow&bbox=${bbox.join(",")}${v !== undefined ? `&live=${v}` : ""}`);
      CN.setData(map, "congestion", body);
    } catch (e) { /* no live traffic */ }
  }

  map.on("click", async (e) => {
    const hits = map.queryRenderedFeatures(e.point, { layers: ["stops", "incident-lines", "incident-points"]
      .filter((l) => map.getLayer(l)) });
    const stop = hits.find((f) => f.layer.id === "stops");
    const inc = hits.find((f) => f.layer.id.startsWith("incident"));
    if (inc) { showIncident(inc.properties); return; }
    if (stop) { showDepartures(stop.properties.stop_id); return; }
    const p = await placeFromClick(e.lngLat);
    if (!state.origin) setPlace("origin", p);
    else { setPlace("destination", p); plan(); }
  });
  for (const l of ["stops", "incident-lines", "incident-points"]) {
    map.on("mouseenter", l, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", l, () => { map.getCanvas().style.cursor = ""; });
  }

  // ------------------------------------------------------------------ planning
  function showError(e) {
    $("status").replaceChildren(el("p", { class: "error" }, `${t("errorPrefix")}: ${e.message}`));
  }
  $("planner").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const o = await resolve($("from"), "from");
      const d = await resolve($("to"), "to");
      setPlace("origin", o); setPlace("destination", d);
      await plan();
    } catch (err) { showError(err); }
  });

  function timeParams() {
    const w = $("when").value, v = $("time").value;
    if (w === "now" || !v) return "";
    const at = `&depart_at=${encodeURIComponent(v.length === 16 ? v + ":00" : v)}`;
    return state.mode === "transit" && w === "arrive" ? at + "&arrive_by=true" : at;
  }

  /* quiet: a refresh of the shown result after a live change (no "Planning…", no refit). */
  async function plan(quiet) {
    if (!state.origin || !state.destination) return;
    const o = state.origin, d = state.destination;
    if (!quiet) {
      $("status").replaceChildren(el("p", {}, t("planning")));
      $("results").replaceChildren();
      CN.setData(map, "routes", CN.EMPTY); CN.setData(map, "itin", CN.EMPTY);
    }
    const from = `${o.lat},${o.lon}`, to = `${d.lat},${d.lon}`;
    try {
      if (state.mode === "transit") {
        const { body } = await api(`/v1/plan?from=${from}&to=${to}&lang=${CN.lang}&num_itineraries=3${timeParams()}`);
        state.result = { kind: "transit", body }; state.selected = 0;
      } else {
        const { body } = await api(`/v1/route?from=${from}&to=${to}&mode=${state.mode}&alternatives=2&lang=${CN.lang}${timeParams()}`);
        state.result = { kind: "road", body }; state.selected = 0;
      }
      $("status").replaceChildren();
      render(!quiet);
      document.body.dataset.planned = String(Number(document.body.dataset.planned || 0) + 1);
    } catch (e) { showError(e); }
  }

  function render(fit) {
    const r = state.result;
    if (!r) return;
    if (r.kind === "road") renderRoads(r.body, fit); else renderTransit(r.body, fit);
  }

  function renderRoads(body, fit) {
    const routes = body.routes || [];
    CN.setData(map, "routes", { type: "FeatureCollection", features: routes.map((rt, i) => ({
      type: "Feature", geometry: rt.geometry, properties: { sel: i === state.selected, i } }))
      .sort((a, b) => a.properties.sel - b.properties.sel) });
    const out = [el("h2", {}, t("routes"))];
    if (!routes.length) out.push(el("p", {}, t("noRoute")));
    routes.forEach((rt, i) => {
      const sel = i === state.selected;
      const ex = rt.explanation || {};
      const eta = rt.eta_sources || {};
      const card = el("div", { class: `card route${sel ? " selected" : ""}`, "data-route": i },
        el("button", { type: "button", class: "pick", "aria-pressed": sel,
          onclick: () => { state.selected = i; render(false); } },
          el("h3", {}, el("span", {}, i === 0 ? t("fastest") : `${t("alternative")} ${i}`),
            el("span", { class: "duration" }, `${fmtDuration(rt.duration_s)} · ${fmtKm(rt.distance_m)}`))),
        (ex.messages || []).map((m) => el("p", { class: "msg explanation" }, m)),
        el("p", { class: "eta" }, `${t("etaSources")}: ${t("freeFlow")} ${fmtDuration(eta.free_flow_s || 0)}`,
          eta.typical_s ? ` · ${t("typical")} +${fmtDuration(eta.typical_s)}` : "",
          eta.live_s ? ` · ${t("live")} +${fmtDuration(eta.live_s)}` : "",
          ex.delay_s ? ` · ${t("incidents")} +${fmtDuration(ex.delay_s)}` : ""));
      if (sel) {
        card.append(el("h4", {}, t("steps")), el("ol", { class: "steps" }, (rt.steps || []).map((s) =>
          el("li", { tabindex: 0, role: "button", onclick: () => flyTo(s.location),
            onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); flyTo(s.location); } } },
            s.instruction, s.distance_m ? ` (${Math.round(s.distance_m)} m)` : ""))));
      }
      out.push(card);
    });
    $("results").replaceChildren(...out);
    if (fit && routes.length) {
      const all = routes.flatMap((x) => x.geometry.coordinates);
      map.fitBounds(CN.lineBounds(all), { padding: 50, duration: 0 });
    }
  }

  function flyTo(loc) { if (loc) map.flyTo({ center: loc, zoom: Math.max(map.getZoom(), 16) }); }

  function delayText(s) {
    if (s === null || s === undefined) return "";
    if (Math.abs(s) < 60) return t("onTime");
    return s > 0 ? `+${Math.round(s / 60)} ${t("min")} ${t("delay")}` : `${Math.round(-s / 60)} ${t("min")} ${t("early")}`;
  }

  /* The itinerary's alerts (its legs carry them in full), each once. */
  function legAlerts(it) {
    const seen = new Map();
    it.legs.forEach((l) => (l.alerts || []).forEach((a) => { if (!seen.has(a.id)) seen.set(a.id, a); }));
    return [...seen.values()];
  }

  function renderTransit(body, fit) {
    const its = body.itineraries || [];
    const it = its[state.selected];
    CN.setData(map, "itin", { type: "FeatureCollection", features: it ? it.legs.filter((l) => l.geometry)
      .map((l) => ({ type: "Feature", geometry: l.geometry, properties: {
        mode: l.mode, color: (l.route && l.route.color) || "#1a56c4" } })) : [] });
    const out = [el("h2", {}, t("itineraries"))];
    if (!its.length) out.push(el("p", {}, t("noRoute")), ...(body.messages || []).map((m) => el("p", { class: "msg" }, m)));
    its.forEach((x, i) => {
      const sel = i === state.selected;
      const card = el("div", { class: `card itinerary${sel ? " selected" : ""}`, "data-itinerary": i },
        el("button", { type: "button", class: "pick", "aria-pressed": sel,
          onclick: () => { state.selected = i; render(true); } },
          el("h3", {}, el("span", {}, `${fmtTime(x.departure)} – ${fmtTime(x.arrival)}`),
            el("span", {}, `${fmtDuration(x.duration_s)} · ${x.transfers} ${t("transfers")}`)),
          el("div", { class: "legs" }, x.legs.map((l) => l.mode === "walk"
            ? el("span", { class: "leg walk" }, `${t("walkLeg")} ${Math.round(l.distance_m || 0)} m`)
            : el("span", { class: "leg transit", style: `background:${l.route.color || "#1a56c4"};color:${l.route.text_color || "#fff"}` },
              l.route.short_name || l.route.long_name)))),
        legAlerts(x).map((a) => el("p", { class: "alert", role: "note" }, `⚠ ${a.header || a.description || a.id}`)));
      if (sel) {
        card.append(el("ol", { class: "steps" }, x.legs.map((l) => {
          const loc = l.geometry && l.geometry.coordinates[0];
          const go = () => flyTo(loc);
          const text = l.mode === "walk"
            ? `${fmtTime(l.departure)} ${t("walkLeg")} ${Math.round(l.distance_m || 0)} m → ${l.to.name}`
            : `${fmtTime(l.departure)} ${l.route.short_name || ""} ${l.headsign || l.route.long_name || ""}: ${l.from.name} → ${l.to.name} (${fmtTime(l.arrival)})`;
          return el("li", { tabindex: 0, role: "button", onclick: go,
            onkeydown: (e) => { if (e.key === "Enter") go(); } }, text,
            l.mode !== "walk" ? el("span", { class: (l.departure_delay_s || 0) >= 60 ? "late" : "ontime" },
              ` ${delayText(l.departure_delay_s)}${l.realtime ? "" : ` (${t("scheduled")})`}`) : "",
            (l.alerts || []).filter((a) => a.description).map((a) => el("div", { class: "alert detail" }, a.description)));
        })));
      }
      out.push(card);
    });
    $("results").replaceChildren(...out);
    if (fit && it) {
      const all = it.legs.flatMap((l) => (l.geometry ? l.geometry.coordinates : []));
      if (all.length) map.fitBounds(CN.lineBounds(all), { padding: 50, duration: 0 });
    }
  }

  // ------------------------------------------------------------------ stops and incidents
  async function showDepartures(stopId) {
    const box = $("stop-board");
    box.hidden = false;
    try {
      const { body } = await api(`/v1/stops/${encodeURIComponent(stopId)}/departures?limit=8&lang=${CN.lang}`);
      box.replaceChildren(el("h2", {}, `${t("departures")}: ${body.stop.name}`),
        body.departures.length ? el("table", {}, el("tr", {}, el("th", {}, t("route")), el("th", {}, ""), el("th", {}, t("when"))),
          body.departures.map((d) => el("tr", {},
            el("td", {}, el("span", { class: "leg", style: `background:${d.route.color || "#1a56c4"};color:${d.route.text_color || "#fff"}` }, d.route.short_name || "")),
            el("td", {}, d.headsign || ""),
            el("td", {}, fmtTime(d.expected || d.scheduled), " ", el("span", { class: (d.delay_s || 0) >= 60 ? "late" : "ontime" },
              d.cancelled ? "✕" : delayText(d.delay_s)))))) : el("p", {}, t("noDepartures")));
    } catch (e) { box.replaceChildren(el("p", { class: "error" }, e.message)); }
  }

  function showIncident(p) {
    const box = $("incident-info");
    box.hidden = false;
    let desc = p.description;
    try { desc = typeof desc === "string" ? JSON.parse(desc) : desc; } catch (e) { /* plain */ }
    const text = desc && typeof desc === "object" ? (desc[CN.lang] || desc.en || Object.values(desc)[0]) : desc;
    box.replaceChildren(el("h2", {}, `${t("incidentsOnMap")}: ${p.id}`),
      el("p", {}, `${p.type} · ${p.severity || ""} · ${p.effective_state || p.status || ""}`),
      text ? el("p", {}, text) : "", el("p", { class: "eta" }, `${p.start || ""} → ${p.end || ""}`));
  }
})();
