/* Suggested categories (events.suggestions): a hint on the case page and, after a report is
 * sent, on the report page. "Use this category" changes the case's category through
 * POST /api/cases/{id}/category with via_suggestion: the change is recorded as a correction. */
(function () {
  "use strict";
  const cg = window.citygrid;

  async function useCategory(section, caseId, categoryId) {
    const error = section.querySelector(".form-error");
    error.hidden = true;
    const answer = await cg.api("POST", "/api/cases/" + caseId + "/category",
      { category_id: Number(categoryId), via_suggestion: true });
    if (answer.ok) return true;
    const errors = answer.offline ? [] : cg.apiErrors(answer.body);
    error.textContent = answer.offline ? cg.t("error.network")
      : (errors.length ? errors.map((entry) => entry.text || entry.msg || "").join(" ") : String(answer.status));
    error.hidden = false;
    return false;
  }

  /** The case page: buttons rendered by the server. */
  const caseSection = document.getElementById("category-suggestions");
  if (caseSection && !caseSection.dataset.ready) {
    caseSection.dataset.ready = "true";
    caseSection.addEventListener("click", async (event) => {
      const button = event.target.closest(".use-suggested-category");
      if (!button) return;
      button.disabled = true;
      if (await useCategory(caseSection, caseSection.dataset.case, button.dataset.category)) {
        cg.announce(caseSection.dataset.done);
        window.location.reload();
      } else {
        button.disabled = false;
      }
    });
  }

  /** The report page, after a report is sent: the answer's suggested_categories. */
  function afterReport(body, chosenCategoryId) {
    const section = document.getElementById("report-suggestions");
    if (!section || !body) return;
    const suggested = Array.isArray(body.suggested_categories) ? body.suggested_categories : [];
    const list = section.querySelector("ul");
    list.textContent = "";
    section.querySelector(".form-error").hidden = true;
    section.hidden = suggested.length === 0;
    if (!suggested.length) return;
    document.getElementById("report-suggestions-case").textContent = body.number || "";
    for (const item of suggested) {
      const entry = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = item.code + " " + item.name + " ";
      const percent = document.createElement("span");
      percent.className = "muted";
      percent.textContent = Math.round(item.probability * 100) + "%";
      entry.append(label, percent, " ");
      if (String(item.category_id) === String(chosenCategoryId)) {
        const current = document.createElement("span");
        current.className = "muted";
        current.textContent = "· " + section.dataset.current;
        entry.append(current);
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = section.dataset.use;
        button.addEventListener("click", async () => {
          button.disabled = true;
          if (await useCategory(section, body.case_id, item.category_id)) {
            for (const other of list.querySelectorAll("button")) other.remove();
            const done = document.createElement("span");
            done.className = "muted";
            done.textContent = "· " + section.dataset.done;
            entry.append(done);
          } else {
            button.disabled = false;
          }
        });
        entry.append(button);
      }
      list.append(entry);
    }
  }

  window.citygridSuggestions = { afterReport: afterReport };
})();
