/* The traffic-centre console (/console): sign in with a key (kept for this tab), draw an
   incident, preview its impact (dry run), publish, edit and resolve with ETag checks (a
   conflict names who changed it and when), diversions, congestion summary, filters and a
   time slider, and a live feed of changes (the server's event stream; polling without it). */
"use strict";

(() => {
  const { t, api, el, fmtDuration } = CN;
  const $ = (id) => document.getElementById(id);
  const KEY = "citynav.console.key";
  const state = { key: sessionStorage.getItem(KEY), serverNow: null, versions: new Map(),
                  incidents: new Map(), firstPoll: true, editing: null };
  const map = CN.newMap("map");
  window.citynavMap = map;

  $("lang").value = CN.lang;
  $("lang").addEventListener("change", (e) => CN.setLang(e.target.value));
  CN.applyTranslations();

  // ------------------------------------------------------------------ drawing control
  const C = MapboxDraw.constants.classes;
  C.CANVAS = "maplibregl-canvas"; C.CONTROL_BASE = "maplibregl-ctrl";
  C.CONTROL_PREFIX = "maplibregl-ctrl-"; C.CONTROL_GROUP = "maplibregl-ctrl-group";
  C.ATTRIBUTION = "maplibregl-ctrl-attrib";
  const draw = new MapboxDraw({ displayControlsDefault: false,
    controls: { line_string: true, polygon: true, point: true, trash: true } });
  map.addControl(draw, "top-left");
  window.citynavDraw = draw;
  const modeButtons = { "draw-line": "draw_line_string", "draw-polygon": "draw_polygon",
                        "draw-point": "draw_point" };
  for (const [id, mode] of Object.entries(modeButtons)) {
    $(id).addEventListener("click", () => { draw.deleteAll(); draw.changeMode(mode); });
  }
  function drawnGeometry() {
    const fc = draw.getAll();
    return fc.features.length ? fc.features[fc.features.length - 1].geometry : null;
  }

  // ------------------------------------------------------------------ sign in
  function authHeaders(extra) {
    return { Authorization: `Bearer ${state.key}`, "Content-Type": "application/json", ...(extra || {}) };
  }
  function showSignedIn() {
    const on = !!state.key;
    $("signin").hidden = on; $("signed-in").hidden = !on; $("editor").hidden = !on;
    $("whoami").textContent = on ? (sessionStorage.getItem(`${KEY}.who`) || "") : "";
  }
  $("signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = $("key").value.trim();
    const r = await fetch(CN.url("/v1/whoami"), { headers: { Authorization: `Bearer ${key}` } });
    const me = r.ok ? await r.json() : null;
    if (!me || !me.can_write_incidents) {
      $("signin-msg").replaceChildren(el("span", { class: "error" }, t("badKey")));
      return;
    }
    state.who = `${me.role}${me.agency ? ` · ${me.agency}` : ""}`;
    sessionStorage.setItem(`${KEY}.who`, state.who);
    state.key = key; sessionStorage.setItem(KEY, key); $("key").value = "";
    $("signin-msg").replaceChildren();
    showSignedIn();
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY); state.key = null; showSignedIn();
  });
  showSignedIn();

  // ------------------------------------------------------------------ the form
  // Times are shown and typed in the city's time zone (GET /v1/health `timezone`).
  function tzOffsetMin(utcMs) {
    let parts;
    try {
      parts = new Intl.DateTimeFormat("en-US", { timeZone: state.tz || "UTC", hourCycle: "h23",
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        second: "2-digit" }).formatToParts(new Date(utcMs));
    } catch (e) { return 0; }
    const g = (type) => Number(parts.find((x) => x.type === type).value);
    const asUtc = Date.UTC(g("year"), g("month") - 1, g("day"), g("hour"), g("minute"), g("second"));
    return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60000);
  }
  function localToIso(v) {
    if (!v) return null;
    const wall = Date.parse(`${v.length === 16 ? `${v}:00` : v}Z`);
    const off = tzOffsetMin(wall - tzOffsetMin(wall) * 60000);
    const a = Math.abs(off);
    const sign = off < 0 ? "-" : "+";
    return `${v.length === 16 ? `${v}:00` : v}${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
  }
  function isoToLocal(iso) {
    if (!iso) return "";
    const ms = Date.parse(iso);
    return new Date(ms + tzOffsetMin(ms) * 60000).toISOString().slice(0, 16);
  }
  function cityTime(iso) { return isoToLocal(iso).slice(11, 16); }
  const closedBoxes = () => [...document.querySelectorAll("#f-closed input[name=closed_to]")];
  function body() {
    const geometry = drawnGeometry();
    if (!geometry) throw new Error(t("drawFirst"));
    const b = { type: $("f-type").value, severity: $("f-severity").value, geometry,
                direction: geometry.type === "LineString" ? $("f-direction").value : "both" };
    const start = localToIso($("f-start").value), end = localToIso($("f-end").value);
    b.start = start || state.serverNow || new Date().toISOString();
    if (end) b.end = end;
    const re = {};
    const closed = closedBoxes().filter((c) => c.checked).map((c) => c.value);
    if (closed.length) re.closed_to = closed.includes("all") ? ["all"] : closed;
    if ($("f-speed").value) re.speed_limit_kmh = Number($("f-speed").value);
    if ($("f-delay").value) re.delay_s = Number($("f-delay").value);
    if (Object.keys(re).length) b.road_effect = re;
    const lanes = /^(\d+)\s*\/\s*(\d+)$/.exec($("f-lanes").value.trim());
    if (lanes) b.lanes = { closed: +lanes[1], total: +lanes[2] };
    const desc = {};
    if ($("f-desc-en").value.trim()) desc.en = $("f-desc-en").value.trim();
    if ($("f-desc-zh").value.trim()) desc["zh-CN"] = $("f-desc-zh").value.trim();
    if (Object.keys(desc).length) b.description = desc;
    return b;
  }
  function problemText(e) {
    const b = e.body || {};
    const params = (b.invalid_params || []).map((p) => `${p.name}: ${p.reason}`).join("; ");
    return `${b.title || t("errorPrefix")}: ${b.detail || e.message}${params ? ` (${params})` : ""}`;
  }

  $("preview").addEventListener("click", async () => {
    const out = $("preview-out");
    try {
      const { body: p } = await api("/v1/incidents?dry_run=true", { method: "POST",
        headers: authHeaders(), body: JSON.stringify(body()) });
      renderPreview(p);
    } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.body ? problemText(e) : e.message)); }
  });

  function renderPreview(p) {
    const m = p.match, imp = p.impact;
    CN.setData(map, "preview", { type: "FeatureCollection", features: imp.changed_routes.flatMap((c) => [
      { type: "Feature", geometry: c.before, properties: { kind: "before" } },
      ...(c.after ? [{ type: "Feature", geometry: c.after, properties: { kind: "after" } }] : [])]) });
    drawDiversions(imp.diversions);
    $("preview-out").replaceChildren(el("div", { class: "preview" },
      el("h3", {}, t("matched")),
      el("p", { class: "match" }, `${m.edge_count} ${t("edges")} · ${Math.round(m.length_m)} m`),
      el("p", {}, `${t("streets")}: ${m.street_names.join(", ") || "—"}`),
      el("p", {}, `${t("stops")}: ${m.stops.join(", ") || "—"}`),
      el("h3", {}, t("impact")),
      el("p", { class: "sampled" }, `${t("sampledRoutes")}: ${imp.changed_routes.length} / ${imp.sampled_routes}`),
      imp.changed_routes.length ? el("ul", {}, imp.changed_routes.slice(0, 6).map((c) => el("li", {},
        c.added_s === null ? `${c.from.join(",")} → ${c.to.join(",")}: ✕`
          : `${c.from.join(",")} → ${c.to.join(",")}: +${fmtDuration(c.added_s)} (${t("added")})`)))
        : el("p", {}, t("noImpact")),
      el("p", {}, `${t("routesAffected")}: ${imp.transit.routes_affected.map((r) => r.name || r.id).join(", ") || "—"}`),
      el("p", {}, `${t("diversions")}: ${imp.diversions.length}`)));
  }

  // ------------------------------------------------------------------ editing
  function fillForm(inc) {
    $("f-type").value = inc.type; $("f-severity").value = inc.severity;
    $("f-start").value = isoToLocal(inc.start); $("f-end").value = isoToLocal(inc.end);
    $("f-direction").value = typeof inc.direction === "string" ? inc.direction : "both";
    const re = inc.road_effect || {};
    const closed = re.closed_to || [];
    closedBoxes().forEach((c) => { c.checked = closed.includes(c.value); });
    $("f-speed").value = re.speed_limit_kmh ?? ""; $("f-delay").value = re.delay_s ?? "";
    $("f-lanes").value = inc.lanes ? `${inc.lanes.closed}/${inc.lanes.total}` : "";
    const desc = inc.description || {};
    $("f-desc-en").value = desc.en || ""; $("f-desc-zh").value = desc["zh-CN"] || desc.zh || "";
  }
  function setEditing(ed) {
    state.editing = ed;
    $("editing").hidden = !ed; $("save").hidden = !ed; $("publish").hidden = !!ed;
    $("editing-id").textContent = ed ? ed.id : ""; $("editing-etag").textContent = ed ? `ETag ${ed.etag}` : "";
  }
  async function startEdit(id) {
    try {
      const { body: inc, headers } = await api(`/v1/incidents/${id}`);
      setEditing({ id, etag: headers.get("ETag"), doc: inc });
      fillForm(inc);
      draw.deleteAll();
      draw.add({ type: "Feature", properties: {}, geometry: inc.geometry });
      zoomTo(inc);
      $("preview-out").replaceChildren();
      $("editor").scrollIntoView({ block: "start" });
    } catch (e) { $("list-msg").replaceChildren(el("p", { class: "error" }, e.body ? problemText(e) : e.message)); }
  }
  const clean = (o) => (o && typeof o === "object" && !Array.isArray(o)
    ? Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) : o);
  /* JSON with object keys sorted and null members dropped, to compare documents. */
  const canon = (v) => (Array.isArray(v) ? `[${v.map(canon).join(",")}]`
    : v && typeof v === "object" && Object.keys(clean(v)).length ? `{${Object.keys(clean(v)).sort()
      .map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(",")}}`
      : JSON.stringify(v ?? null));
  const same = (a, b) => canon(a) === canon(b);
  /* The fields of the form that differ from the incident as it was read (null clears). */
  function patchOf(inc) {
    const b = body(), p = {};
    for (const k of ["type", "severity", "geometry", "direction", "lanes", "road_effect"]) {
      if (!same(b[k], inc[k])) p[k] = b[k] === undefined ? null : b[k];
    }
    if (Date.parse(b.start) !== Date.parse(inc.start) && $("f-start").value !== isoToLocal(inc.start)) p.start = b.start;
    const end = b.end ?? null;
    if ((end === null) !== (inc.end === null || inc.end === undefined)
        || (end !== null && Date.parse(end) !== Date.parse(inc.end))) p.end = end;
    const desc = { ...(inc.description || {}) };
    delete desc.en; delete desc["zh-CN"];
    Object.assign(desc, b.description || {});
    if (!same(desc, inc.description || {})) p.description = desc;
    return p;
  }
  async function showConflict(box, id, retry) {
    let who = "?", when = "?", actor = "";
    try {
      const { body: cur } = await api(`/v1/incidents/${id}`);
      who = cur.agency; actor = cur.updated_by || ""; when = cityTime(cur.updated_at);
    } catch (e2) { /* keep the question marks */ }
    box.replaceChildren(el("p", { class: "error conflict", title: actor }, `${id}: ${t("conflict", { who, when })}`,
      " ", el("button", { type: "button", class: "small reload", onclick: retry }, t("reload"))));
  }
  $("save").addEventListener("click", async () => {
    const ed = state.editing, out = $("preview-out");
    if (!ed) return;
    let patch;
    try { patch = patchOf(ed.doc); } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); return; }
    if (!Object.keys(patch).length) { out.replaceChildren(el("p", {}, t("noChanges"))); return; }
    try {
      const { body: inc } = await api(`/v1/incidents/${ed.id}`, { method: "PATCH",
        body: JSON.stringify(patch), headers: authHeaders({ "If-Match": ed.etag }) });
      out.replaceChildren(el("p", { class: "saved" }, `${t("saved")}: ${inc.id} v${inc.version} (${Object.keys(patch).join(", ")})`));
      setEditing(null); draw.deleteAll();
      await refresh();
    } catch (e) {
      if (e.status === 412) await showConflict(out, ed.id, () => startEdit(ed.id));
      else out.replaceChildren(el("p", { class: "error" }, e.body ? problemText(e) : e.message));
    }
  });
  $("edit-cancel").addEventListener("click", () => { setEditing(null); draw.deleteAll(); });

  $("incident-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = $("preview-out");
    try {
      const { body: inc } = await api("/v1/incidents", { method: "POST", headers: authHeaders(),
        body: JSON.stringify(body()) });
      out.replaceChildren(el("p", { class: "published" }, `${t("published")}: ${inc.id}`));
      draw.deleteAll();
      CN.setData(map, "preview", CN.EMPTY);
      await refresh();
    } catch (err) { out.replaceChildren(el("p", { class: "error" }, err.body ? problemText(err) : err.message)); }
  });

  // ------------------------------------------------------------------ list, slider, feed
  function atIso() {
    const mins = Number($("at").value);
    if (!mins || !state.serverNow) return null;
    return new Date(Date.parse(state.serverNow) + mins * 60000).toISOString();
  }
  async function refresh() {
    const q = new URLSearchParams({ limit: "500" });
    if ($("flt-status").value) q.set("status", $("flt-status").value);
    if ($("flt-agency").value.trim()) q.set("agency", $("flt-agency").value.trim());
    const at = atIso();
    if (at) q.set("at", at);
    $("at-out").textContent = at ? at.slice(0, 16).replace("T", " ") + "Z" : t("now");
    try {
      const { body } = await api(`/v1/incidents?${q}`);
      const type = $("flt-type").value, sev = $("flt-severity").value;
      const feats = body.features.filter((f) => (!type || f.properties.type === type)
        && (!sev || f.properties.severity === sev));
      CN.setData(map, "incidents", { type: "FeatureCollection", features: feats });
      renderTable(feats);
    } catch (e) { $("list-msg").replaceChildren(el("p", { class: "error" }, e.message)); }
  }
  function renderTable(feats) {
    $("incidents").tBodies[0].replaceChildren(...feats.map((f) => {
      const p = f.properties;
      const resolvable = state.key && (p.status === "active" || p.status === "scheduled");
      return el("tr", { "data-id": p.id },
        el("td", {}, p.id), el("td", {}, p.type), el("td", { class: "severity" }, p.severity),
        el("td", {}, p.status),
        el("td", {}, (p.match && p.match.street_names ? p.match.street_names.join(", ") : "")),
        el("td", {},
          el("button", { type: "button", class: "small", onclick: () => zoomTo(f) }, "⌖"),
          " ",
          el("button", { type: "button", class: "small diversions", onclick: () => showDiversions(p.id) }, t("diversions")),
          " ",
          resolvable ? el("button", { type: "button", class: "small edit",
            onclick: () => startEdit(p.id) }, t("edit")) : "",
          " ",
          resolvable ? el("button", { type: "button", class: "small resolve",
            onclick: () => resolve(p.id, p.version) }, t("resolve")) : ""));
    }));
  }
  function zoomTo(f) {
    const coords = f.geometry.type === "Point" ? [f.geometry.coordinates]
      : f.geometry.type === "LineString" ? f.geometry.coordinates : f.geometry.coordinates[0];
    map.fitBounds(CN.lineBounds(coords), { padding: 80, maxZoom: 17 });
  }
  async function resolve(id, version) {
    try {
      await api(`/v1/incidents/${id}`, { method: "PATCH", body: JSON.stringify({ status: "resolved" }),
        headers: authHeaders({ "If-Match": `"${version}"` }) });
      $("list-msg").replaceChildren(el("p", {}, `${id}: ${t("resolved")}`));
    } catch (e) {
      if (e.status === 412) {
        await showConflict($("list-msg"), id, refresh);
      } else {
        $("list-msg").replaceChildren(el("p", { class: "error" }, e.body ? problemText(e) : e.message));
      }
    }
    await refresh();
  }
  async function showDiversions(id) {
    try {
      const { body } = await api(`/v1/incidents/${id}/diversions?lang=${CN.lang}`);
      drawDiversions(body.diversions);
    } catch (e) {
      $("diversions-out").replaceChildren(el("p", { class: "error" }, e.body ? problemText(e) : e.message));
    }
  }
  function drawDiversions(divs) {
    const feats = [];
    const items = [];
    (divs || []).forEach((d) => {
      items.push(el("li", { class: "sign" }, `${t("signs")}: ${d.sign_text}`));
      (d.routes || []).forEach((r) => {
        if (r.geometry) feats.push({ type: "Feature", geometry: r.geometry, properties: {} });
        items.push(el("li", {}, (r.streets_to_sign || []).join(" → ") || "—",
          ` (+${fmtDuration(r.extra_s || 0)})`));
      });
    });
    CN.setData(map, "diversions", { type: "FeatureCollection", features: feats });
    if (feats.length) {
      map.fitBounds(CN.lineBounds(feats.flatMap((f) => f.geometry.coordinates)),
        { padding: 60, duration: 0 });
    }
    $("diversions-out").replaceChildren(el("h3", {}, t("diversions")), items.length ? el("ul", {}, items) : "—");
  }
  ["flt-status", "flt-severity", "flt-agency", "flt-type", "at"].forEach((id) => $(id).addEventListener("change", refresh));
  $("at").addEventListener("input", () => {
    const at = atIso();
    $("at-out").textContent = at ? at.slice(0, 16).replace("T", " ") + "Z" : t("now");
  });

  async function poll() {
    try {
      const { body: h } = await api("/v1/health");
      state.serverNow = h.now; state.tz = h.timezone;
      const { body } = await api("/v1/incidents?limit=1000");
      const items = [];
      for (const f of body.features) {
        const p = f.properties, was = state.versions.get(p.id);
        if (was !== p.version && !state.firstPoll) {
          items.push(el("li", {}, `${cityTime(p.updated_at)} ${p.id} v${p.version} ${p.status} · ${p.agency} ${p.updated_by || ""}`));
        }
        state.versions.set(p.id, p.version);
      }
      if (items.length) { $("feed").prepend(...items.reverse()); await refresh(); }
      state.firstPoll = false;
    } catch (e) { /* server unreachable: try again */ }
  }
  async function summary() {
    if (map.getZoom() < 11) return;
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    try {
      const { body: s } = await api(`/v1/congestion/summary?bbox=${bbox}&worst=5`);
      const km = s.km_by_level;
      $("summary").replaceChildren(
        el("p", {}, Object.entries(km).map(([k, v]) => `${k} ${v.toFixed(1)} km`).join(" · ")),
        el("p", {}, `Σ ${fmtDuration(s.total_delay_s)}`),
        el("ol", {}, s.worst_segments.map((w) => el("li", {}, `${w.name || "—"}: ${w.level} +${Math.round(w.delay_s)} s`))));
      const { body: cg } = await api(`/v1/congestion?min_level=slow&bbox=${bbox}`);
      CN.setData(map, "congestion", cg);
    } catch (e) { /* no live traffic on this server */ }
  }

  map.on("load", () => {
    for (const id of ["incidents", "preview", "diversions", "congestion"]) {
      map.addSource(id, { type: "geojson", data: CN.EMPTY });
    }
    map.addLayer({ id: "congestion", type: "line", source: "congestion",
      paint: { "line-width": 3, "line-offset": 2, "line-color": ["match", ["get", "level"],
        "slow", "#f5a623", "heavy", "#e4572e", "standstill", "#8b0000", "closed", "#222", "#4caf50"] } });
    map.addLayer({ id: "preview-before", type: "line", source: "preview", filter: ["==", ["get", "kind"], "before"],
      paint: { "line-color": "#8e99ad", "line-width": 4 } });
    map.addLayer({ id: "preview-after", type: "line", source: "preview", filter: ["==", ["get", "kind"], "after"],
      paint: { "line-color": "#2f7bff", "line-width": 3 } });
    map.addLayer({ id: "diversions", type: "line", source: "diversions",
      paint: { "line-color": "#7b1fa2", "line-width": 5, "line-opacity": 0.8 } });
    map.addLayer({ id: "incident-lines", type: "line", source: "incidents", filter: ["!=", ["geometry-type"], "Point"],
      paint: { "line-color": "#c62828", "line-width": 5, "line-dasharray": [2, 1] } });
    map.addLayer({ id: "incident-points", type: "circle", source: "incidents", filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": "#c62828", "circle-radius": 7, "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    map.on("moveend", summary);
    poll().then(refresh).then(() => { document.body.dataset.ready = "1"; });
    summary();
    // the feed follows the server's change stream; every 5 s polling when it is unavailable
    const refreshSoon = CN.debounce(() => { refresh(); summary(); }, 250);
    state.live = CN.live({ types: ["incident", "state"], pollMs: 5000, poll, onEvent: (type, d) => {
      if (type === "state") { state.serverNow = d.at || state.serverNow; refreshSoon(); return; }
      const x = d.data || {}, inc = x.incident || {};
      if (state.versions.get(x.incident_id) === x.version) return;  // already listed
      state.versions.set(x.incident_id, x.version);
      $("feed").prepend(el("li", { class: "live" }, `${cityTime(d.at)} ${x.incident_id} v${x.version} ${x.action} · ${inc.agency || ""} ${x.actor || ""}`));
      refreshSoon();
    } });
  });
})();
