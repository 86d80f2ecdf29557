/* Maps of the pages, on the vendored Leaflet (and Leaflet.markercluster for the work lists).
 *
 * window.citygridMaps.baseLayer(map): the base layer every page map shares: the city's tiles
 *   when /api/map/areas names a tile server, otherwise the outlines of the districts, streets,
 *   communities and (zoomed in) cells with their names, never bare squares. Names that would
 *   overlap are hidden, coarser units first.
 * window.citygridMaps.worklistMap(element): the map of a work list (the macro
 *   maps/templates/maps/_worklist_map.html): the cases of /api/map/cases as clustered markers
 *   coloured by light, a popup linking each case; areas counted when too many match, with finer
 *   counts (or the cases themselves) fetched for the view as the user zooms in.
 *
 * A list tells its map that its filters changed with a DOM event on the document:
 *   document.dispatchEvent(new CustomEvent("worklist:changed",
 *     {detail: {query: "status=filed&q=路灯"}}));   // detail.map: one map's id, when several
 * The query is the list's /api/cases query string; paging and sort parameters are ignored.
 */
(function () {
  "use strict";

  const MAX_ZOOM = 19; // without tiles nothing else sets it, and the clusters need one
  const FIT_MAX_ZOOM = 16;
  const AREAS_URL = "/api/map/areas";
  const LIGHT_RANK = { green: 1, yellow: 2, red: 3 };
  const LEVEL_ORDER = ["cell", "community", "street", "district"]; // drawn bottom to top
  const LABEL_PRIORITY = { street: 0, community: 1, cell: 2 };
  const OUTLINE_STYLE = {
    district: { color: "#1d2430", weight: 2.5, fill: false },
    street: { color: "#3c4a66", weight: 2, fill: false },
    community: { color: "#6b778d", weight: 1.2, dashArray: "5 4", fill: false },
    cell: { color: "#9aa3b2", weight: 0.8, fillColor: "#0b5cad", fillOpacity: 0.03 },
  };
  const BOX_PADDING = 0.25; // outlines a quarter view beyond each side (cells stay under cap)
  const MOVE_DELAY_MS = 200;
  const LABEL_PANE = "citygridLabels";
  // A list's paging and order: the map shows every match, so they are not sent.
  const PAGING_PARAMETERS = ["page", "page_size", "sort", "cursor", "after", "before"];

  function debounce(action, delayMs) {
    let timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(action, delayMs);
    };
  }

  async function getJson(url) {
    const response = await fetch(url, {
      credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    }
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.json();
  }

  /** "west,south,east,north" of Leaflet bounds, as the API's bbox parameters take it. */
  function boxOf(bounds) {
    return [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
      .map((value) => value.toFixed(6)).join(",");
  }

  function boundsOfBox(box) {
    return L.latLngBounds([box[1], box[0]], [box[3], box[2]]);
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  }

  // --- the base layer ------------------------------------------------------------------------

  function labelPane(map) {
    const pane = map.getPane(LABEL_PANE) || map.createPane(LABEL_PANE);
    pane.style.zIndex = "450"; // over the outlines (400), under the markers (600)
    pane.style.pointerEvents = "none";
    return LABEL_PANE;
  }

  function labelMarker(feature, pane) {
    const [lon, lat] = feature.properties.label;
    const level = feature.properties.level;
    return L.marker([lat, lon], {
      icon: L.divIcon({
        className: "wm-label wm-label-" + level,
        html: "<span>" + escapeHtml(feature.properties.name) + "</span>",
        iconSize: [0, 0],
      }),
      interactive: false,
      keyboard: false,
      pane: pane,
      level: level,
    });
  }

  /** Hide the names that would overlap one already shown (streets first, then communities). */
  function placeLabels(labels) {
    const items = labels.getLayers()
      .map((marker) => ({ marker: marker, text: marker.getElement() && marker.getElement().firstChild }))
      .filter((item) => item.text);
    items.sort((a, b) => LABEL_PRIORITY[a.marker.options.level] - LABEL_PRIORITY[b.marker.options.level]);
    for (const item of items) item.text.classList.remove("wm-hidden");
    const boxes = items.map((item) => item.text.getBoundingClientRect()); // one layout for all
    const kept = [];
    items.forEach((item, index) => {
      const box = boxes[index];
      const clash = kept.some((other) => box.left < other.right && box.right > other.left
        && box.top < other.bottom && box.bottom > other.top);
      if (clash) item.text.classList.add("wm-hidden");
      else kept.push(box);
    });
  }

  /** The shared base layer on `map`; `refresh()` loads what the current view needs, `first()`
   * asks once for the grid's extent (and learns whether the city has tiles). */
  function baseLayer(map, options) {
    const areasUrl = (options && options.areasUrl) || AREAS_URL;
    const pane = labelPane(map);
    const outlines = L.layerGroup().addTo(map);
    const labels = L.layerGroup().addTo(map);
    let loaded = null; // {view, zoom} the outlines drawn were asked for
    let tiles = null;
    let serial = 0;

    function useTiles(url) {
      if (tiles) return;
      outlines.clearLayers();
      labels.clearLayers();
      tiles = L.tileLayer(url, { maxZoom: MAX_ZOOM }).addTo(map);
      tiles.bringToBack();
    }

    function draw(answer) {
      const zoom = answer.properties.zoom;
      const labelFrom = answer.properties.label_min_zoom;
      outlines.clearLayers();
      labels.clearLayers();
      for (const level of LEVEL_ORDER) {
        const ofLevel = answer.features.filter((feature) => feature.properties.level === level);
        if (ofLevel.length) {
          L.geoJSON(ofLevel, { style: OUTLINE_STYLE[level], interactive: false }).addTo(outlines);
        }
      }
      for (const feature of answer.features) {
        const from = labelFrom[feature.properties.level];
        if (from !== undefined && zoom >= from) labels.addLayer(labelMarker(feature, pane));
      }
      placeLabels(labels);
    }

    async function refresh() {
      if (tiles) return;
      const zoom = Math.floor(map.getZoom()); // the work-list map snaps to half zooms
      const view = map.getBounds();
      if (loaded && loaded.zoom === zoom && loaded.view.equals(view)) return;
      const box = view.pad(BOX_PADDING);
      const mine = ++serial;
      let answer;
      try {
        // Names are placed in the view (a street filling it is named there); the outlines
        // reach beyond it, so a pan shows them before the next answer comes.
        answer = await getJson(areasUrl + "?zoom=" + zoom + "&bbox=" + boxOf(box) + "&view=" + boxOf(view));
      } catch (error) {
        return; // the base layer is a backdrop: the map works without it
      }
      if (mine !== serial) return;
      if (answer.properties.tiles_url) {
        useTiles(answer.properties.tiles_url);
        return;
      }
      loaded = { view: view, zoom: zoom };
      draw(answer);
    }

    async function first() {
      try {
        const answer = await getJson(areasUrl + "?zoom=0");
        if (answer.properties.tiles_url) useTiles(answer.properties.tiles_url);
        return answer.properties.extent ? boundsOfBox(answer.properties.extent) : null;
      } catch (error) {
        return null;
      }
    }

    map.on("moveend", debounce(refresh, MOVE_DELAY_MS));
    return { refresh: refresh, first: first };
  }

  // --- the work list's map -------------------------------------------------------------------

  function lightOfRank(rank) {
    return Object.keys(LIGHT_RANK).find((light) => LIGHT_RANK[light] === rank) || null;
  }

  function worklistMap(element) {
    if (element.worklistMap) return element.worklistMap;
    const section = element.closest(".worklist-map") || element.parentElement;
    const messagesElement = section.querySelector(".worklist-map-messages");
    const messages = messagesElement ? JSON.parse(messagesElement.textContent || "{}") : {};
    const status = section.querySelector(".worklist-map-status");
    const language = document.documentElement.lang || "zh-CN";
    const compact = new Intl.NumberFormat(language, { notation: "compact", maximumFractionDigits: 1 });
    const [casesPath, initialQuery] = element.dataset.casesUrl.split("?");
    let query = initialQuery || "";
    let full = null; // the answer for the list's filters alone
    let fullBounds = null;
    let showingFull = false; // or the answer for the view (zoomed in on counted areas)
    let generation = 0; // bumped by every reload: answers for older filters are dropped
    let reloading = false;
    let viewSerial = 0;

    function t(key, params) {
      let text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
      for (const [name, value] of Object.entries(params || {})) {
        text = text.split("{" + name + "}").join(String(value));
      }
      return text;
    }

    function countText(n) {
      return n === 1 ? t("count.one") : t("count.other", { n: n.toLocaleString(language) });
    }

    element.style.setProperty("--wm-height", (Number(element.dataset.height) || 420) + "px");
    // Half zooms: the listed cases fill the frame better when fitted.
    const map = L.map(element, { maxZoom: MAX_ZOOM, attributionControl: false, zoomSnap: 0.5 });
    const base = baseLayer(map, { areasUrl: element.dataset.areasUrl });
    const markers = L.markerClusterGroup
      ? L.markerClusterGroup({
        showCoverageOnHover: false,
        maxClusterRadius: 48,
        spiderfyOnMaxZoom: true,
        chunkedLoading: true,
        iconCreateFunction: clusterIcon,
      })
      : L.featureGroup();
    markers.addTo(map);

    function countIcon(n, light, kind) {
      const size = n < 100 ? 32 : n < 10000 ? 40 : 48;
      return L.divIcon({
        className: "wm-count " + kind + " wm-" + (light || "none"),
        html: "<span>" + escapeHtml(compact.format(n)) + "</span>",
        iconSize: [size, size],
      });
    }

    function clusterIcon(cluster) {
      let cases = 0;
      let worst = 0;
      for (const marker of cluster.getAllChildMarkers()) {
        cases += marker.options.cases;
        worst = Math.max(worst, LIGHT_RANK[marker.options.light] || 0);
      }
      return countIcon(cases, lightOfRank(worst), "wm-cluster");
    }

    function casePopup(properties) {
      const box = document.createElement("div");
      box.className = "wm-popup";
      const link = document.createElement("a");
      link.href = "/cases/" + encodeURIComponent(properties.id);
      link.textContent = properties.number;
      const name = language === "en" ? properties.category_name_en : properties.category_name_zh;
      const category = document.createElement("div");
      category.textContent = properties.category_code + " " + name;
      const state = document.createElement("div");
      state.textContent = [
        t("status." + properties.status),
        properties.urgency === "urgent" ? t("urgent") : null,
        t("light." + (properties.light || "none")),
      ].filter(Boolean).join(" · ");
      box.append(link, category, state);
      return box;
    }

    function caseMarker(feature) {
      const properties = feature.properties;
      const [lon, lat] = feature.geometry.coordinates;
      const light = properties.light || "none";
      const marker = L.marker([lat, lon], {
        icon: L.divIcon({ className: "wm-dot wm-" + light, iconSize: [16, 16] }),
        title: properties.number + " " + t("light." + light),
        cases: 1,
        light: properties.light,
      });
      marker.bindPopup(() => casePopup(properties));
      return marker;
    }

    function areaPopup(properties, latlng) {
      const box = document.createElement("div");
      box.className = "wm-popup";
      const name = document.createElement("strong");
      name.textContent = properties.name;
      const what = document.createElement("div");
      what.textContent = t("level." + properties.level) + " " + properties.code;
      const count = document.createElement("div");
      count.textContent = countText(properties.cases) + " · " + t("light." + (properties.light || "none"));
      const zoomIn = document.createElement("button");
      zoomIn.type = "button";
      zoomIn.textContent = t("zoom_in");
      zoomIn.addEventListener("click", () => map.setView(latlng, Math.min(map.getZoom() + 2, MAX_ZOOM)));
      box.append(name, what, count, zoomIn);
      return box;
    }

    function areaMarker(feature) {
      const properties = feature.properties;
      const [lon, lat] = feature.geometry.coordinates;
      const marker = L.marker([lat, lon], {
        icon: countIcon(properties.cases, properties.light, "wm-area"),
        title: properties.name + ": " + countText(properties.cases),
        cases: properties.cases,
        light: properties.light,
      });
      marker.bindPopup(() => areaPopup(properties, marker.getLatLng()));
      return marker;
    }

    function draw(answer) {
      markers.clearLayers();
      const made = answer.features.map(answer.properties.grouped_by ? areaMarker : caseMarker);
      if (markers.addLayers) markers.addLayers(made); // the clusters index them in one pass
      else made.forEach((marker) => markers.addLayer(marker));
    }

    function say(answer, inView) {
      const total = answer.properties.total;
      const grouped = answer.properties.grouped_by;
      let text;
      if (!total) text = t(inView ? "map.none_in_view" : "map.none");
      else if (grouped) text = t("map.grouped", { n: total.toLocaleString(language), level: t("level." + grouped) });
      else text = t(inView ? "map.in_view" : "map.total", { n: total.toLocaleString(language) });
      status.textContent = text;
    }

    async function fetchCases(view) {
      const parameters = new URLSearchParams(query);
      for (const name of PAGING_PARAMETERS) parameters.delete(name);
      if (view) parameters.set("bbox", boxOf(view));
      return getJson(casesPath + "?" + parameters.toString());
    }

    function answerBounds(answer) {
      if (!answer.features.length) return null;
      return L.latLngBounds(answer.features.map((f) => [f.geometry.coordinates[1], f.geometry.coordinates[0]]));
    }

    /** The list's filters changed (or the map starts): every match, and the view fitted to them. */
    async function reload() {
      const mine = ++generation;
      reloading = true;
      status.textContent = t("map.loading");
      let answer;
      try {
        answer = await fetchCases(null);
      } catch (error) {
        if (mine === generation) {
          reloading = false;
          status.textContent = t("map.error");
        }
        return;
      }
      if (mine !== generation) return;
      reloading = false;
      full = answer;
      fullBounds = answerBounds(answer);
      showingFull = true;
      draw(answer);
      say(answer, false);
      fitToCases();
    }

    function fitToCases() {
      // No animation: new filters show their cases at once (and a marker is never clicked
      // while the map still flies to them).
      if (fullBounds) map.fitBounds(fullBounds, { maxZoom: FIT_MAX_ZOOM, padding: [24, 24], animate: false });
    }

    /** A map first laid out hidden (a closed tab or panel) is fitted again once it shows. */
    function followSize() {
      let shown = element.clientWidth > 0 && element.clientHeight > 0;
      if (!window.ResizeObserver) return;
      new ResizeObserver(() => {
        map.invalidateSize();
        if (!shown && element.clientWidth > 0 && element.clientHeight > 0) {
          shown = true;
          fitToCases();
        }
      }).observe(element);
    }

    /** Zoomed in on counted areas: the counts (or the cases) within the view. */
    async function refine() {
      if (reloading || !full || !full.properties.grouped_by) return;
      if (new URLSearchParams(query).has("bbox")) return; // the list's own box: nothing finer
      const view = map.getBounds();
      if (fullBounds && view.contains(fullBounds)) {
        if (!showingFull) {
          showingFull = true;
          draw(full);
          say(full, false);
        }
        return;
      }
      const filters = generation;
      const mine = ++viewSerial;
      let answer;
      try {
        answer = await fetchCases(view.pad(0.1));
      } catch (error) {
        return;
      }
      if (filters !== generation || mine !== viewSerial) return;
      showingFull = false;
      draw(answer);
      say(answer, true);
    }

    async function start() {
      const [extent] = await Promise.all([base.first(), reload()]);
      if (!fullBounds) {
        if (extent) map.fitBounds(extent);
        else map.setView([0, 0], 2);
      }
      base.refresh();
      map.on("moveend", debounce(refine, MOVE_DELAY_MS));
      followSize();
    }

    document.addEventListener("worklist:changed", (event) => {
      const detail = event.detail || {};
      if (typeof detail === "object" && detail.map && detail.map !== element.id) return;
      const next = typeof detail === "string" ? detail : detail.query || "";
      query = next.replace(/^\?/, "");
      reload();
    });

    const controller = { map: map, reload: reload, ready: null };
    element.worklistMap = controller;
    controller.ready = start();
    return controller;
  }

  function startAll() {
    for (const element of document.querySelectorAll(".worklist-map-canvas[data-cases-url]")) {
      worklistMap(element);
    }
  }

  window.citygridMaps = { baseLayer: baseLayer, worklistMap: worklistMap };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startAll);
  else startAll();
})();
