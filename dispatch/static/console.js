/* The dispatch console: keyboard tabs (remembered in the address's #fragment) and bulk dispatch
 * of the cases ticked in the queue (all or nothing: a refusal lists every case that cannot go). */
(function () {
  "use strict";

  const citygrid = window.citygrid;
  const actions = window.dispatchActions;

  // Tabs -------------------------------------------------------------------------------------

  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));

  function panelOf(tab) {
    return document.getElementById(tab.getAttribute("aria-controls"));
  }

  function selectTab(tab, focus) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      other.tabIndex = selected ? 0 : -1;
      panelOf(other).hidden = !selected;
    }
    if (focus) tab.focus();
    const fragment = "#" + tab.id.replace(/^tab-/, "");
    if (window.location.hash !== fragment) history.replaceState(null, "", fragment);
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
  if (wanted && tabs.includes(wanted)) selectTab(wanted, false);

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

  /** The refused cases, by number, each with the API's reason. */
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
      item.textContent = number + ": " + refusal.reason;
      item.lang = "en";
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
      actions.showFormError(bulkForm, citygrid.t("error.none_selected"));
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
    actions.showFailure(bulkForm, result);
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
})();
