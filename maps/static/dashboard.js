/* The dashboard's hot-spot map: drawn on the page itself (vendored Leaflet) over the shared base
 * layer (window.citygridMaps.baseLayer: the city's tiles, or the grid's outlines with their
 * names), from the JSON at #hotspot-map[data-src] (maps.pages.service.hotspot_map_data): the
 * significant cells with their colour, the legend and the notices, already in the page's
 * language. */
(function () {
  "use strict";
  const cg = window.citygrid;
  const MAX_ZOOM = 19;

  function escapeHtml(text) {
    const element = document.createElement("span");
    element.textContent = String(text);
    return element.innerHTML;
  }

  function tooltipHtml(properties, fields) {
    const rows = [
      [properties.code, properties.name],
      [fields.count, properties.count],
      [fields.class, properties.class],
      [fields.trend, properties.trend],
      ["z", properties.z],
    ];
    return '<div class="hotspot-tooltip"><dl>' + rows.map(
      ([term, value]) => "<dt>" + escapeHtml(term) + "</dt><dd>" + escapeHtml(value) + "</dd>"
    ).join("") + "</dl></div>";
  }

  function drawLegend(entries) {
    const legend = document.getElementById("hotspot-map-legend");
    if (!legend) return;
    legend.replaceChildren();
    for (const [colour, label] of entries) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "hotspot-swatch";
      swatch.style.background = colour; // CSSOM, allowed by the page's style-src 'self'
      item.append(swatch, document.createTextNode(label));
      legend.append(item);
    }
  }

  function say(text) {
    const status = document.getElementById("hotspot-map-status");
    if (status) status.textContent = text;
  }

  async function draw(holder) {
    const map = L.map(holder, { maxZoom: MAX_ZOOM, attributionControl: false });
    const base = window.citygridMaps ? window.citygridMaps.baseLayer(map) : null;
    window.dashboardMap = { map: map, cells: null };
    say(cg.t("dashboard.map.loading"));
    let data;
    try {
      const response = await fetch(holder.dataset.src, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      data = await response.json();
    } catch (error) {
      say(cg.t("dashboard.map.failed"));
      return;
    }
    const cells = L.geoJSON(data.cells, {
      style: (feature) => ({
        fillColor: feature.properties.colour, color: feature.properties.colour,
        weight: 1.5, fillOpacity: 0.75, // a cell stays visible zoomed out to the city
      }),
      onEachFeature: (feature, layer) => layer.bindTooltip(tooltipHtml(feature.properties, data.fields)),
    });
    // The view first: Leaflet draws vector layers only on a map that has one.
    let bounds = data.cells.features.length ? cells.getBounds() : null;
    if (!bounds && base) bounds = await base.first();
    if (bounds) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 16 });
    else map.setView([0, 0], 2);
    cells.addTo(map);
    window.dashboardMap.cells = cells;
    if (base) base.refresh();
    drawLegend(data.legend);
    const description = document.getElementById("hotspot-map-description");
    if (description) description.textContent = data.description;
    say(data.notices.join(" "));
  }

  function start() {
    const holder = document.getElementById("hotspot-map");
    if (holder && window.L) draw(holder);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
