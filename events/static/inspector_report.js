/* The new-report form: the place (geolocation with its accuracy, a tap on the map of the grid
 * with its street, community and cell names, or a cell code), the category picker, photos; submitting goes through window.inspectorQueue,
 * which keeps the report on the device when there is no network. */
(function () {
  "use strict";

  const cg = window.citygrid;
  const queue = window.inspectorQueue;
  const setup = JSON.parse(document.getElementById("inspector-setup").textContent || "{}");
  const language = document.documentElement.lang;
  const form = document.getElementById("report-form");
  const byId = (id) => document.getElementById(id);
  const CATEGORY_PAGE_SIZE = 500;
  const START_ZOOM = 16;
  const PLACE_ZOOM = 18;
  const CELL_CODE = /^\d{15}$/;

  let categories = [];
  let map = null;
  let placeMarker = null;
  let accuracyCircle = null;
  let userChosePlace = false; // a place the user picked is never overwritten by a late GPS fix

  /** A random (v4) UUID made on this device; crypto.randomUUID needs https, so a fallback. */
  function newUuid() {
    if (window.crypto.randomUUID) return window.crypto.randomUUID();
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // --- the place ---------------------------------------------------------------------------

  /** Set the report's point, draw it, and show the cell it falls in. */
  async function setPlace(lon, lat, accuracyMetres) {
    byId("lon").value = lon.toFixed(7);
    byId("lat").value = lat.toFixed(7);
    drawPlace(lon, lat, accuracyMetres);
    const status = byId("place-status");
    status.textContent = cg.t("locate.searching");
    const answer = await cg.api("GET", "/api/grid/locate?lon=" + lon + "&lat=" + lat);
    if (byId("lon").value !== lon.toFixed(7) || byId("lat").value !== lat.toFixed(7)) return;
    if (answer.ok) {
      const found = answer.body;
      // A cell named by its code says the code once.
      const named = found.cell.name && found.cell.name !== found.cell.code;
      status.textContent = cg.t(named ? "locate.cell" : "locate.cell_unnamed", {
        code: found.cell.code, name: found.cell.name, community: found.community.name,
      });
    } else if (answer.offline) {
      status.textContent = cg.t("locate.kept", { lon: lon.toFixed(6), lat: lat.toFixed(6) });
    } else {
      status.textContent = cg.t("locate.outside");
    }
  }

  function clearPlace() {
    for (const id of ["lon", "lat", "cell-code"]) byId(id).value = "";
    for (const id of ["place-status", "accuracy"]) byId(id).textContent = "";
    for (const layer of [placeMarker, accuracyCircle]) if (layer && map) map.removeLayer(layer);
    placeMarker = accuracyCircle = null;
    userChosePlace = false;
  }

  function useMyLocation(automatic) {
    if (!navigator.geolocation) {
      if (!automatic) byId("accuracy").textContent = cg.t("locate.denied");
      return;
    }
    if (!automatic) byId("accuracy").textContent = cg.t("locate.asking");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        if (automatic && userChosePlace) return;
        if (!automatic) userChosePlace = true;
        const coords = position.coords;
        byId("accuracy").textContent = cg.t("locate.accuracy", { metres: Math.round(coords.accuracy) });
        setPlace(coords.longitude, coords.latitude, coords.accuracy);
      },
      () => {
        if (!automatic) byId("accuracy").textContent = cg.t("locate.denied");
      },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 }
    );
  }

  /** Ask for the position at once when the user already allowed it (no prompt on opening). */
  async function locateIfAllowed() {
    if (!navigator.permissions || !navigator.geolocation) return;
    try {
      const permission = await navigator.permissions.query({ name: "geolocation" });
      if (permission.state === "granted") useMyLocation(true);
    } catch (error) {
      // no Permissions API for geolocation: wait for the button
    }
  }

  /** The area-weighted centre of a polygon's outer ring (lon, lat): inside any convex cell. */
  function ringCentre(ring) {
    let area = 0, x = 0, y = 0;
    for (let i = 0; i < ring.length - 1; i++) {
      const [x0, y0] = ring[i], [x1, y1] = ring[i + 1];
      const cross = x0 * y1 - x1 * y0;
      area += cross;
      x += (x0 + x1) * cross;
      y += (y0 + y1) * cross;
    }
    if (Math.abs(area) < 1e-18) return ring[0];
    return [x / (3 * area), y / (3 * area)];
  }

  function outerRing(geometry) {
    return geometry.type === "MultiPolygon" ? geometry.coordinates[0][0] : geometry.coordinates[0];
  }

  async function findCell() {
    const code = byId("cell-code").value.trim();
    const status = byId("place-status");
    if (!CELL_CODE.test(code)) {
      status.textContent = cg.t("locate.no_cell");
      return;
    }
    status.textContent = cg.t("locate.searching");
    const answer = await cg.api("GET", "/api/grid/cells/" + encodeURIComponent(code));
    if (!answer.ok) {
      status.textContent = cg.t(answer.offline ? "error.network" : "locate.no_cell");
      return;
    }
    userChosePlace = true;
    byId("accuracy").textContent = "";
    const [lon, lat] = ringCentre(outerRing(answer.body.geometry));
    await setPlace(lon, lat, null);
    if (map) map.fitBounds(L.geoJSON(answer.body).getBounds());
  }

  // --- the map: the pages' shared base layer (maps/static/worklist_map.js) --------------------

  function drawPlace(lon, lat, accuracyMetres) {
    if (!map) return;
    for (const layer of [placeMarker, accuracyCircle]) if (layer) map.removeLayer(layer);
    placeMarker = L.circleMarker([lat, lon], { radius: 8, color: "#b3261e", weight: 3 }).addTo(map);
    accuracyCircle = accuracyMetres
      ? L.circle([lat, lon], { radius: accuracyMetres, color: "#0b5cad", weight: 1 }).addTo(map)
      : null;
    map.setView([lat, lon], Math.max(map.getZoom(), PLACE_ZOOM));
  }

  /** The city's tiles, or the grid's outlines with street, community and cell names (never bare
   * squares); its outlines ignore taps, so a tap anywhere sets the place. */
  function startMap() {
    if (!window.L || !window.citygridMaps || !setup.centre) return;
    const [lon, lat] = setup.centre;
    map = L.map("report-map", { attributionControl: false, maxZoom: 19 }).setView([lat, lon], START_ZOOM);
    const base = window.citygridMaps.baseLayer(map);
    map.on("click", (event) => {
      userChosePlace = true;
      byId("accuracy").textContent = "";
      setPlace(event.latlng.lng, event.latlng.lat, null);
    });
    base.refresh();
  }

  function useMapCentre() {
    if (!map) return;
    const centre = map.getCenter();
    userChosePlace = true;
    byId("accuracy").textContent = "";
    setPlace(centre.lng, centre.lat, null);
  }

  // --- categories ------------------------------------------------------------------------------

  async function loadCategories() {
    byId("category-count").textContent = cg.t("category.loading");
    const loaded = [];
    for (let page = 1; page; ) {
      const answer = await cg.api("GET",
        "/api/categories?level=minor&page_size=" + CATEGORY_PAGE_SIZE + "&page=" + page);
      if (!answer.ok) {
        byId("category-count").textContent = cg.t("category.offline");
        return;
      }
      loaded.push(...answer.body.items);
      page = answer.body.next_page;
    }
    categories = loaded;
    showCategories();
  }

  function categoryName(category) {
    return language === "en" ? category.name_en : category.name_zh;
  }

  /** Categories whose code starts with the query or whose name (either language) holds it. */
  function matching(query) {
    const wanted = query.trim().toLowerCase();
    if (!wanted) return categories;
    return categories.filter((c) =>
      c.code.startsWith(wanted) || c.name_zh.includes(wanted) || c.name_en.toLowerCase().includes(wanted));
  }

  function showCategories() {
    const select = byId("category");
    const chosen = select.value;
    const found = matching(byId("category-search").value);
    select.replaceChildren(...found.map((category) => {
      const option = document.createElement("option");
      option.value = String(category.id);
      // The server labels the categories whose name another one bears (code and standard).
      const labels = setup.category_labels || {};
      option.textContent = labels[category.id] || category.code + " " + categoryName(category);
      option.selected = option.value === chosen;
      return option;
    }));
    if (found.length === 1) select.value = String(found[0].id);
    byId("category-count").textContent = found.length
      ? cg.t("category.count", { n: found.length }) : cg.t("category.none");
  }

  // --- photos ----------------------------------------------------------------------------------

  function showPhotoPreviews() {
    const box = byId("photo-previews");
    for (const image of box.querySelectorAll("img")) URL.revokeObjectURL(image.src);
    box.replaceChildren(...Array.from(byId("photos").files, (file) => {
      const image = document.createElement("img");
      image.src = URL.createObjectURL(file);
      image.alt = file.name;
      return image;
    }));
  }

  // --- submitting ----------------------------------------------------------------------------

  /** Errors the API would give, found before the report is kept (it may be sent much later). */
  function localErrors() {
    const errors = []; // in the form's order: the first one gets the focus
    if (!byId("lon").value && !byId("photos").files.length) errors.push({ field: "lon/lat" });
    if (!byId("category").value) errors.push({ loc: ["body", "category_id"], type: "missing" });
    if (!byId("description").value.trim()) errors.push({ loc: ["body", "description"], type: "missing" });
    return errors;
  }

  function recordOfForm() {
    const category = categories.find((c) => String(c.id) === byId("category").value);
    return {
      uuid: newUuid(), // made when the user pressed submit: every retry sends the same one
      user_id: setup.user_id,
      queued_at: new Date().toISOString(),
      fields: {
        category_id: byId("category").value,
        description: byId("description").value.trim(),
        urgency: byId("urgency").value,
        lon: byId("lon").value,
        lat: byId("lat").value,
        address: byId("address").value.trim(),
      },
      photos: Array.from(byId("photos").files, (file) => ({ blob: file, name: file.name })),
      category: category ? { code: category.code, name_zh: category.name_zh, name_en: category.name_en } : null,
    };
  }

  function resetForm() {
    form.reset();
    clearPlace();
    byId("category-search").value = "";
    showCategories();
    showPhotoPreviews();
  }

  async function submit(event) {
    event.preventDefault();
    cg.clearErrors(form);
    const errors = localErrors();
    if (errors.length) {
      cg.showErrors(form, { detail: errors });
      return;
    }
    const button = byId("submit-report");
    button.disabled = true;
    byId("queue-status").textContent = cg.t("report.sending");
    try {
      const outcome = await queue.submitNew(recordOfForm());
      if (outcome.queued) {
        byId("queue-status").textContent = cg.t("queue.saved");
        resetForm();
      } else if (outcome.answer.ok) {
        if (window.citygridSuggestions) {
          window.citygridSuggestions.afterReport(outcome.answer.body, byId("category").value);
        }
        resetForm();
      } else if (outcome.answer.offline) {
        byId("queue-status").textContent = cg.t("error.network");
      } else {
        byId("queue-status").textContent = "";
        cg.showErrors(form, outcome.answer.body);
      }
    } finally {
      button.disabled = false;
    }
  }

  /** Enter in a search box acts on the search, not on the whole form. */
  function onEnter(element, action) {
    element.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        action();
      }
    });
  }

  byId("find-cell").addEventListener("click", findCell);
  onEnter(byId("cell-code"), findCell);
  byId("use-location").addEventListener("click", () => useMyLocation(false));
  byId("use-map-centre").addEventListener("click", useMapCentre);
  byId("category-search").addEventListener("input", showCategories);
  onEnter(byId("category-search"), () => byId("category").focus());
  byId("photos").addEventListener("change", showPhotoPreviews);
  form.addEventListener("submit", submit);
  startMap();
  loadCategories();
  locateIfAllowed();
})();
