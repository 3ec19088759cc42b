/* citynav web pages: shared helpers (language, API calls, the map). No build step; loads
   nothing but this server's files. */
"use strict";

const CN = (() => {
  const STRINGS = {
    en: {
      title: "citynav — plan a trip", consoleTitle: "citynav — traffic centre",
      from: "From", to: "To", searchPlaceholder: "Street, intersection, stop or place",
      car: "Car", bike: "Bike", walk: "Walk", transit: "Transit", modes: "Travel mode",
      leaveNow: "Leave now", departAt: "Depart at", arriveBy: "Arrive by", when: "When",
      plan: "Plan", swap: "Swap", language: "Language", clickHint:
        "Tip: click the map to set the start, then the destination.",
      routes: "Routes", route: "Route", fastest: "Fastest", alternative: "Alternative",
      min: "min", km: "km", steps: "Steps", noRoute: "No route found",
      etaSources: "ETA sources", freeFlow: "free flow", typical: "typical traffic",
      live: "live", incidents: "incidents", explanation: "Why this route",
      itineraries: "Trips", transfers: "transfers", walkLeg: "Walk", wait: "wait",
      delay: "late", early: "early", onTime: "on time", scheduled: "scheduled",
      alerts: "Alerts", departures: "Departures", stop: "Stop", noDepartures:
        "No departures", incidentsOnMap: "Incidents", congestion: "Congestion",
      origin: "Start", destination: "Destination", planning: "Planning…",
      errorPrefix: "Error", console: "Traffic-centre console", docs: "API docs",
      commuter: "Commuter map", layers: "Layers",
      unavailableArrive: "Arrive by is for transit trips; cars, bikes and walks leave at the chosen time.",
      // console
      signIn: "Sign in", apiKey: "API key", signOut: "Sign out", signedIn: "Signed in",
      badKey: "This key was refused", filters: "Filters", status: "Status",
      any: "any", agency: "Agency", type: "Type", severity: "Severity", start: "Start",
      end: "End", direction: "Direction", lanes: "Lanes closed", closedTo: "Closed to",
      speedLimit: "Speed limit (km/h)", delayS: "Added delay (s)",
      descriptionEn: "Description (English)", descriptionZh: "Description (Chinese)",
      draw: "Draw", drawLine: "Line", drawPolygon: "Area", drawPoint: "Point",
      preview: "Preview", publish: "Publish", resolve: "Resolve", reload: "Reload",
      matched: "Matched", edges: "edges", streets: "Streets", stops: "Stops",
      impact: "Expected impact", sampledRoutes: "Sampled routes that change",
      added: "added", routesAffected: "Transit routes affected", diversions: "Diversions",
      published: "Published", conflict: "changed by {who} at {when} — reload",
      drawFirst: "Draw the incident on the map first.", atTime: "In effect at",
      now: "now", feed: "Live changes", summary: "Congestion summary",
      nothingToPreview: "Nothing previewed yet", noImpact: "No sampled route changes",
      list: "Incidents", id: "Id", actions: "Actions", signs: "Sign", resolved: "Resolved",
      edit: "Edit", editing: "Editing", editHint: "draw again to change the geometry",
      cancelEdit: "Cancel edit", saveChanges: "Save changes", saved: "Saved",
      noChanges: "Nothing changed", bus: "Bus", truck: "Truck", allVehicles: "All vehicles",
    },
    "zh-CN": {
      title: "citynav — 出行规划", consoleTitle: "citynav — 交通指挥中心",
      from: "起点", to: "终点", searchPlaceholder: "街道、路口、站点或地点",
      car: "驾车", bike: "骑行", walk: "步行", transit: "公交", modes: "出行方式",
      leaveNow: "现在出发", departAt: "出发时间", arriveBy: "到达时间", when: "时间",
      plan: "规划", swap: "交换", language: "语言", clickHint: "提示：点击地图设置起点，再点击设置终点。",
      routes: "路线", route: "路线", fastest: "最快", alternative: "备选",
      min: "分钟", km: "公里", steps: "步骤", noRoute: "未找到路线",
      etaSources: "到达时间来源", freeFlow: "自由流", typical: "典型路况",
      live: "实时", incidents: "事件", explanation: "路线说明",
      itineraries: "公交方案", transfers: "次换乘", walkLeg: "步行", wait: "等候",
      delay: "晚点", early: "提前", onTime: "准点", scheduled: "计划",
      alerts: "提醒", departures: "发车信息", stop: "站点", noDepartures: "暂无发车",
      incidentsOnMap: "交通事件", congestion: "拥堵", origin: "起点", destination: "终点",
      planning: "规划中…", errorPrefix: "错误", console: "交通指挥控制台", docs: "API 文档",
      commuter: "出行地图", layers: "图层",
      unavailableArrive: "“到达时间”仅适用于公交；驾车、骑行和步行按所选时间出发。",
      signIn: "登录", apiKey: "API 密钥", signOut: "退出", signedIn: "已登录",
      badKey: "密钥被拒绝", filters: "筛选", status: "状态", any: "全部", agency: "机构",
      type: "类型", severity: "严重程度", start: "开始", end: "结束", direction: "方向",
      lanes: "封闭车道", closedTo: "禁止通行", speedLimit: "限速（公里/小时）",
      delayS: "增加延误（秒）", descriptionEn: "描述（英文）", descriptionZh: "描述（中文）",
      draw: "绘制", drawLine: "线", drawPolygon: "区域", drawPoint: "点",
      preview: "预览", publish: "发布", resolve: "解除", reload: "重新加载",
      matched: "匹配", edges: "条路段", streets: "街道", stops: "站点",
      impact: "预计影响", sampledRoutes: "受影响的抽样路线", added: "增加",
      routesAffected: "受影响的公交线路", diversions: "绕行", published: "已发布",
      conflict: "已被 {who} 于 {when} 修改 — 请重新加载", drawFirst: "请先在地图上绘制事件。",
      atTime: "生效时间", now: "现在", feed: "实时变更", summary: "拥堵概况",
      nothingToPreview: "尚未预览", noImpact: "抽样路线无变化", list: "事件列表", id: "编号",
      actions: "操作", signs: "指示牌", resolved: "已解除",
      edit: "编辑", editing: "正在编辑", editHint: "重新绘制可修改位置", cancelEdit: "取消编辑",
      saveChanges: "保存修改", saved: "已保存", noChanges: "没有修改", bus: "公交车",
      truck: "货车", allVehicles: "所有车辆",
    },
  };
  const stored = localStorage.getItem("citynav.lang");
  const fromBrowser = (navigator.languages || [navigator.language || "en"])
    .some((l) => l.toLowerCase().startsWith("zh")) ? "zh-CN" : "en";
  let lang = STRINGS[stored] ? stored : fromBrowser;
  const listeners = [];

  function t(key, vars) {
    let s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.replace(`{${k}}`, v);
    return s;
  }
  function applyTranslations(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    });
    (root || document).querySelectorAll("[data-i18n-label]").forEach((el) => {
      el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    });
    document.documentElement.lang = lang;
  }
  function setLang(l) {
    lang = STRINGS[l] ? l : "en";
    localStorage.setItem("citynav.lang", lang);
    applyTranslations();
    listeners.forEach((f) => f(lang));
  }

  // API paths are resolved against the page (not the host's root), so the pages also work
  // behind a reverse proxy that mounts the server under a prefix ("/citynav/").
  function url(path) { return path.replace(/^\//, ""); }
  async function api(path, opts) {
    const r = await fetch(url(path), opts);
    const type = r.headers.get("content-type") || "";
    const body = type.includes("json") ? await r.json() : await r.text();
    if (!r.ok) {
      const err = new Error((body && body.detail) || `${r.status} ${r.statusText}`);
      err.status = r.status; err.body = body; err.headers = r.headers;
      throw err;
    }
    return { body, headers: r.headers, status: r.status };
  }

  function fmtDuration(s) {
    if (Math.abs(s) < 60) return `${Math.round(s)} s`;
    const m = Math.round(s / 60);
    return m < 60 ? `${m} ${t("min")}` : `${Math.floor(m / 60)} h ${m % 60} ${t("min")}`;
  }
  function fmtKm(m) { return `${(m / 1000).toFixed(1)} ${t("km")}`; }
  function fmtTime(iso) { return iso ? iso.slice(11, 16) : ""; }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function newMap(container) {
    const map = new maplibregl.Map({
      container, style: new URL("v1/style.json", document.baseURI).href,
      attributionControl: { compact: true },
      // CJK place names would be drawn with the browser's own fonts (no glyph downloads)
      localIdeographFontFamily: "sans-serif",
    });
    map.addControl(new maplibregl.NavigationControl(), "top-right");
    map.addControl(new maplibregl.ScaleControl({ unit: "metric" }));
    return map;
  }
  function lineBounds(coords) {
    const b = new maplibregl.LngLatBounds();
    coords.forEach((c) => b.extend(c));
    return b;
  }
  function setData(map, id, data) {
    const src = map.getSource(id);
    if (src) src.setData(data);
  }
  const EMPTY = { type: "FeatureCollection", features: [] };

  /* Live updates: the server's Server-Sent Events (/v1/events) of the given types call
     onEvent(type, data); while the stream is down (no EventSource, incidents disabled, a
     broken connection being retried) poll() runs every pollMs instead. The mode in use is
     in document.body.dataset.live ("sse" or "poll") and in the returned object. */
  function live({ types, onEvent, poll, pollMs }) {
    const status = { mode: "connecting", source: null };
    let timer = null;
    const setMode = (m) => { status.mode = m; document.body.dataset.live = m; };
    function startPolling() {
      if (timer !== null) return;
      setMode("poll");
      poll();
      timer = setInterval(poll, pollMs);
    }
    function stopPolling() { if (timer !== null) { clearInterval(timer); timer = null; } }
    if (!window.EventSource) { startPolling(); return status; }
    const es = new EventSource(url(`/v1/events?types=${types.join(",")}`));
    status.source = es;
    es.onopen = () => { stopPolling(); setMode("sse"); };
    const handler = (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      onEvent(ev.type, data);
    };
    types.forEach((type) => es.addEventListener(type, handler));
    // CLOSED: the server refused the stream (e.g. 404 without an incident store), the browser
    // gives up; CONNECTING: it retries — poll meanwhile, onopen stops the polling again.
    es.onerror = () => { startPolling(); };
    return status;
  }
  /* Calls f at most once per `ms` (the last call wins), for bursts of live events. */
  function debounce(f, ms) {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => f(...args), ms); };
  }

  return {
    t, setLang, applyTranslations, get lang() { return lang; },
    onLang(f) { listeners.push(f); }, api, fmtDuration, fmtKm, fmtTime, el, newMap,
    lineBounds, setData, EMPTY, live, debounce, url,
  };
})();
