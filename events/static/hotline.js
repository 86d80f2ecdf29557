/* The hotline tickets page: for a ticket waiting to be located, a small map (no tiles: offline)
 * with the grid's cells around its candidate places; a click on the map puts the point in the
 * ticket's longitude and latitude fields, which the form then sends (admin.js). */
(function () {
  "use strict";
  const cg = window.citygrid;
  const MARGIN_DEG = 0.004; // about 400 m around the candidates
  const CELLS_SHOWN_MAX = 500;

  function boundsOf(candidates) {
    const lons = candidates.map((c) => c.lon);
    const lats = candidates.map((c) => c.lat);
    return [Math.min(...lons) - MARGIN_DEG, Math.min(...lats) - MARGIN_DEG,
      Math.max(...lons) + MARGIN_DEG, Math.max(...lats) + MARGIN_DEG];
  }

  async function drawCells(map, box) {
    const bbox = box.map((value) => value.toFixed(6)).join(",");
    const answer = await cg.api("GET", "/api/grid/cells?page_size=" + CELLS_SHOWN_MAX + "&bbox=" + bbox);
    if (!answer.ok || !answer.body) return;
    L.geoJSON(answer.body, { color: "#0b5cad", weight: 1, fillOpacity: 0.03 })
      .bindTooltip((layer) => String((layer.feature.properties || {}).name || ""))
      .addTo(map);
  }

  function pickMap(holder) {
    const candidates = JSON.parse(holder.dataset.candidates || "[]");
    if (!window.L || !candidates.length) return;
    const form = document.getElementById(holder.dataset.form);
    const map = L.map(holder, { attributionControl: false });
    const box = boundsOf(candidates);
    map.fitBounds([[box[1], box[0]], [box[3], box[2]]]);
    for (const candidate of candidates) {
      L.circleMarker([candidate.lat, candidate.lon], { radius: 6, color: "#1e7a34", fillOpacity: 0.8 })
        .bindTooltip(candidate.label).addTo(map);
    }
    drawCells(map, box);
    let picked = null;
    map.on("click", (event) => {
      const { lat, lng } = event.latlng;
      if (picked) picked.setLatLng(event.latlng);
      else picked = L.circleMarker(event.latlng, { radius: 7, color: "#b3261e", fillOpacity: 0.9 }).addTo(map);
      form.elements.namedItem("lon").value = lng.toFixed(6);
      form.elements.namedItem("lat").value = lat.toFixed(6);
    });
    holder.closest("details").addEventListener("toggle", () => map.invalidateSize());
  }

  document.querySelectorAll(".pick-map").forEach(pickMap);
})();
