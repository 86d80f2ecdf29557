/* The case page: the location map (cell outline, reported point, nearby components) and the
 * action forms, which post to the case action API and show its errors beside the fields. */
(function () {
  "use strict";
  const cg = window.citygrid;
  const COMPONENTS_SHOWN_MAX = 200;
  const COMPONENT_MARGIN_DEG = 0.002; // about 200 m around the cell

  /** The map: no tiles (offline), the cell outline as the base, the point on top. */
  function drawMap() {
    const holder = document.getElementById("case-map");
    const dataElement = document.getElementById("case-map-data");
    if (!holder || !dataElement || !window.L) return;
    const mapData = JSON.parse(dataElement.textContent || "{}");
    const map = L.map(holder, { attributionControl: false });
    const cell = L.geoJSON(mapData.cell, { color: "#0b5cad", weight: 3, fillOpacity: 0.08 })
      .bindTooltip(cg.t("case.cell"));
    const [lon, lat] = mapData.point;
    // The view first: Leaflet draws vector layers only on a map that has one.
    map.fitBounds(cell.getBounds().extend([lat, lon]), { padding: [16, 16], maxZoom: 19 });
    cell.addTo(map);
    L.circleMarker([lat, lon], { radius: 7, color: "#b3261e", fillOpacity: 0.9 })
      .bindTooltip(cg.t("case.here")).addTo(map);
    window.caseMap = { map: map, cell: cell };
    drawComponents(map, cell.getBounds(), mapData.components_url);
  }

  /** Components around the cell, when the inventory answers (skipped quietly when it does not:
   * a citizen may not read it, an older server has no such route). */
  async function drawComponents(map, bounds, url) {
    if (!url) return;
    const bbox = [bounds.getWest() - COMPONENT_MARGIN_DEG, bounds.getSouth() - COMPONENT_MARGIN_DEG,
      bounds.getEast() + COMPONENT_MARGIN_DEG, bounds.getNorth() + COMPONENT_MARGIN_DEG]
      .map((value) => value.toFixed(6)).join(",");
    const answer = await cg.api("GET", url + "?limit=" + COMPONENTS_SHOWN_MAX + "&bbox=" + bbox);
    if (!answer.ok || !answer.body || !Array.isArray(answer.body.features)) return;
    const layer = L.geoJSON(answer.body, {
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 4, color: "#1e7a34" }),
      onEachFeature: (feature, item) => {
        const properties = feature.properties || {};
        item.bindTooltip(String(properties.code || "") + " " + String(properties.category_name || ""));
      },
    }).addTo(map);
    window.caseMap.components = layer;
    const note = document.getElementById("case-components");
    if (note) note.textContent = cg.t("case.components", { count: answer.body.features.length });
  }

  /** Upload the form's photos for this case; their ids, or null after showing the error. */
  async function uploadPhotos(form, caseId) {
    const input = form.querySelector('input[type="file"]');
    if (!input || !input.files.length) return [];
    const upload = new FormData();
    for (const file of input.files) upload.append("photos", file);
    announce(cg.t("case.uploading"));
    const answer = await cg.api("POST", "/api/cases/" + caseId + "/photos", upload);
    if (!answer.ok) {
      if (answer.offline) showFormError(form, cg.t("error.network"));
      else cg.showErrors(form, answer.body);
      return null;
    }
    return answer.body.photo_ids;
  }

  /** The action's JSON body from the form (empty fields left out). */
  function actionBody(form, photoIds) {
    const body = { expected_version: Number(form.dataset.version) };
    const reason = form.elements.namedItem("reason");
    if (reason && reason.value.trim()) body.reason = reason.value;
    const department = form.elements.namedItem("department_code");
    if (department && department.value) body.department_code = department.value;
    const hours = form.elements.namedItem("hours");
    if (hours && hours.value !== "") body.hours = Number(hours.value);
    if (photoIds.length) body.photo_ids = photoIds;
    return body;
  }

  /** A message for the whole form (not about one field). */
  function showFormError(form, text) {
    const element = form.querySelector(".form-error");
    element.textContent = text;
    element.hidden = false;
  }

  function announce(text) {
    const element = document.getElementById("case-announcement");
    if (element) element.textContent = text;
  }

  async function submitAction(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector('button[type="submit"]');
    cg.clearErrors(form);
    showFormError(form, "");
    form.querySelector(".form-error").hidden = true;
    button.disabled = true;
    try {
      const caseId = form.dataset.case;
      const photoIds = await uploadPhotos(form, caseId);
      if (photoIds === null) return;
      announce(cg.t("case.sending"));
      const url = "/api/cases/" + caseId + "/actions/" + form.dataset.action;
      const answer = await cg.api("POST", url, actionBody(form, photoIds));
      if (answer.ok) {
        announce(cg.t("case.done"));
        window.location.reload();
        return;
      }
      announce("");
      if (answer.offline) showFormError(form, cg.t("error.network"));
      else cg.showErrors(form, answer.body);
    } finally {
      button.disabled = false;
    }
  }

  for (const form of document.querySelectorAll("form.case-action")) {
    form.addEventListener("submit", submitAction);
  }
  drawMap();
})();
