/* The dispatch console: keyboard tabs (remembered in the address's #fragment; the map shows the
 * chosen list's cases), bulk dispatch of the cases ticked in the queue (all or nothing: a
 * refusal lists every case that cannot go), and new arrivals without a reload: every few
 * seconds the page asks /console/updates for the reports and queue entries that came in since
 * its last look, puts them on top of their lists (marked new) and updates the totals. */
(function () {
  "use strict";

  const citygrid = window.citygrid;
  const actions = window.dispatchActions;
  const POLL_MS = 5000;
  const MAP_ID = "console-map";

  // Tabs -------------------------------------------------------------------------------------

  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  const FOCUS_KEY = "citygrid.console.focus";

  function panelOf(tab) {
    return document.getElementById(tab.getAttribute("aria-controls"));
  }

  function showOnMap(tab) {
    const detail = { query: tab.dataset.mapQuery || "", map: MAP_ID };
    document.dispatchEvent(new CustomEvent("worklist:changed", { detail: detail }));
  }

  function selectTab(tab, focus) {
    const panel = panelOf(tab);
    if (panel.dataset.loadUrl) {
      // A list read only when asked for (every list but the queue): the page with it, its tab
      // focused again when the keyboard chose it.
      if (focus) sessionStorage.setItem(FOCUS_KEY, tab.id);
      window.location.assign(panel.dataset.loadUrl);
      return;
    }
    const changed = tab.getAttribute("aria-selected") !== "true";
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      other.tabIndex = selected ? 0 : -1;
      panelOf(other).hidden = !selected;
    }
    if (focus) tab.focus();
    const fragment = "#" + tab.id.replace(/^tab-/, "");
    if (window.location.hash !== fragment) history.replaceState(null, "", fragment);
    if (changed) showOnMap(tab);
  }

  function onTabKey(event) {
    const index = tabs.indexOf(event.currentTarget);
    const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = (index + moves[event.key] + tabs.length) % tabs.length;
    selectTab(tabs[next], true);
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", onTabKey);
  }
  const wanted = document.getElementById("tab-" + window.location.hash.slice(1));
  const refocus = sessionStorage.getItem(FOCUS_KEY);
  sessionStorage.removeItem(FOCUS_KEY);
  if (wanted && tabs.includes(wanted)) selectTab(wanted, refocus === wanted.id);

  // Bulk dispatch ----------------------------------------------------------------------------

  const bulkForm = document.getElementById("bulk-form");
  const selectAll = document.getElementById("select-all");

  function ticked() {
    return Array.from(document.querySelectorAll('#queue-table input[name="case_ids"]:checked'));
  }

  function showCount() {
    const counter = document.getElementById("bulk-count");
    if (counter) counter.textContent = citygrid.t("selected", { count: ticked().length });
  }

  /** The refused cases, by number (the API's reasons are for API clients). */
  function showRefusals(form, refusals) {
    const list = form.querySelector(".refusals");
    const numbers = {};
    for (const box of document.querySelectorAll('#queue-table input[name="case_ids"]')) {
      numbers[box.value] = box.dataset.number;
    }
    list.replaceChildren();
    for (const refusal of refusals) {
      const item = document.createElement("li");
      const number = numbers[String(refusal.case_id)] || String(refusal.case_id);
      item.textContent = citygrid.t("refused", { number: number });
      list.append(item);
    }
    list.hidden = refusals.length === 0;
  }

  async function submitBulk(event) {
    event.preventDefault();
    event.stopPropagation();
    const boxes = ticked();
    showRefusals(bulkForm, []);
    if (!boxes.length) {
      citygrid.showFormError(bulkForm, citygrid.t("error.none_selected"));
      return;
    }
    citygrid.clearErrors(bulkForm);
    const department = bulkForm.querySelector('[name="department_code"]').value;
    const reason = bulkForm.querySelector('[name="reason"]').value.trim();
    const body = {
      case_ids: boxes.map((box) => Number(box.value)),
      department_code: department || null,
      reason: reason || null,
    };
    actions.setBusy(bulkForm, true);
    const result = await citygrid.api("POST", "/api/dispatch/assign", body);
    actions.setBusy(bulkForm, false);
    if (result.ok) {
      actions.doneReload();
      return;
    }
    citygrid.showFailure(bulkForm, result);
    if (result.body && Array.isArray(result.body.refusals)) showRefusals(bulkForm, result.body.refusals);
  }

  if (bulkForm) {
    bulkForm.addEventListener("submit", submitBulk);
    document.getElementById("queue-table").addEventListener("change", showCount);
    showCount();
  }
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      for (const box of document.querySelectorAll('#queue-table input[name="case_ids"]')) {
        box.checked = selectAll.checked;
      }
      showCount();
    });
  }

  // New arrivals -----------------------------------------------------------------------------

  const updates = document.getElementById("console-updates");
  // Where each list's rows go, and the panel whose totals it shows.
  const LISTS = {
    queue: { rows: () => document.querySelector("#queue-table tbody"), panel: "panel-queue" },
    filing: { rows: () => document.getElementById("filing-list"), panel: "panel-filing" },
  };
  let since = updates ? updates.dataset.since : null;
  let asking = false;

  function showTotal(name, total) {
    const count = document.querySelector('[data-count="' + name + '"]');
    if (count) count.textContent = "(" + total + ")";
    const panel = document.getElementById(LISTS[name].panel);
    for (const element of panel.querySelectorAll(".paging [data-total]")) {
      element.dataset.total = String(total);
      element.textContent = citygrid.t("list.total", { total: total });
    }
  }

  /** Put the new rows on top of a list shown from its start in a newest-first order (another
   * order or page only gets the new total). How many were added. */
  function addRows(name, arrived) {
    const container = LISTS[name].rows();
    if (!container || !arrived.html || container.closest("[data-live]").dataset.live !== "true") {
      return 0;
    }
    const template = document.createElement("template");
    template.innerHTML = arrived.html;
    const fresh = Array.from(template.content.children).filter((row) => {
      const id = row.dataset.caseId;
      return id && !container.querySelector('[data-case-id="' + CSS.escape(id) + '"]');
    });
    container.prepend(...fresh);
    if (fresh.length) {
      const panel = document.getElementById(LISTS[name].panel);
      for (const hidden of panel.querySelectorAll("[data-live][hidden]")) hidden.hidden = false;
      const empty = panel.querySelector(".empty-list");
      if (empty) empty.hidden = true;
    }
    return fresh.length;
  }

  async function askForArrivals() {
    if (asking || document.hidden || !since) return;
    asking = true;
    try {
      const base = updates.dataset.url;
      const url = base + (base.endsWith("?") ? "" : "&") + "since=" + encodeURIComponent(since);
      const response = await fetch(url, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) return; // signed out or the server busy: the next look tries again
      const answer = await response.json();
      since = answer.since;
      let added = 0;
      for (const name of Object.keys(LISTS)) {
        showTotal(name, answer.totals[name]);
        added += addRows(name, answer[name]);
      }
      if (added) {
        actions.announce(citygrid.t("arrived", { count: added }));
        showCount();
        const shown = tabs.find((tab) => tab.getAttribute("aria-selected") === "true");
        if (shown) showOnMap(shown); // the map shows the new cases too
      }
    } catch (error) {
      // offline: keep what is shown and look again later
    } finally {
      asking = false;
    }
  }

  /** The totals the page was rendered without (the duplicate candidates). */
  async function fillPendingCounts() {
    if (!document.querySelector("[data-count][data-pending]")) return;
    try {
      const response = await fetch(updates.dataset.countsUrl, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const counts = await response.json();
      for (const [name, total] of Object.entries(counts)) {
        const count = document.querySelector('[data-count="' + name + '"][data-pending]');
        if (!count) continue;
        count.textContent = "(" + total + ")";
        delete count.dataset.pending;
      }
    } catch (error) {
      // offline: the count stays unknown
    }
  }

  if (updates) {
    fillPendingCounts();
    window.setInterval(askForArrivals, POLL_MS);
    document.addEventListener("visibilitychange", askForArrivals);
  }
})();
