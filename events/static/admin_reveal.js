/* Administration forms whose answer holds something shown only once (an Open311 key, a
 * webhook's signing secret): a `form.js-reveal` posts its named controls as JSON to its
 * data-url and, on success, fills the [data-reveal-field="name"] slots of the element its
 * data-reveal names from the answer and shows it, instead of reloading (which would lose it).
 * A button with data-reload in that element reloads the page, to list what was created.
 *
 * Controls: data-type="int" sends a number; checkboxes of one name send the list of checked
 * values; a control left empty is left out (the API's default applies). Errors appear beside
 * their fields (citygrid.showErrors), as on the other administration forms (admin.js). */
(function () {
  "use strict";

  const citygrid = window.citygrid;

  function bodyOf(form) {
    const body = {};
    for (const control of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      if (control.type === "checkbox") {
        body[control.name] = body[control.name] || [];
        if (control.checked) body[control.name].push(control.value);
        continue;
      }
      const value = control.value.trim();
      if (value === "") continue;
      body[control.name] = control.dataset.type === "int" ? Number(value) : value;
    }
    return body;
  }

  function reveal(form, answer) {
    const panel = document.querySelector(form.dataset.reveal);
    if (!panel) return;
    for (const slot of panel.querySelectorAll("[data-reveal-field]")) {
      const value = answer[slot.dataset.revealField];
      slot.textContent = value === undefined || value === null ? "" : String(value);
    }
    panel.hidden = false;
    form.reset();
    panel.focus();
  }

  async function submit(event) {
    const form = event.target;
    if (!form.matches("form.js-reveal")) return;
    event.preventDefault();
    citygrid.clearErrors(form);
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    const result = await citygrid.api("POST", form.dataset.url, bodyOf(form));
    for (const button of form.querySelectorAll("button")) button.disabled = false;
    if (result.ok) {
      reveal(form, result.body || {});
    } else {
      citygrid.showFailure(form, result);
    }
  }

  function reloadOnClick(event) {
    if (event.target.closest("[data-reload]")) window.location.reload();
  }

  document.addEventListener("submit", submit);
  document.addEventListener("click", reloadOnClick);
})();
