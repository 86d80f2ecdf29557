/* Desk and console, hotline work (dispatch/hotline, dispatch/summons):
 * - `form.js-multipart` sends its controls as multipart (a summons report-in with its photo);
 * - `form.js-summons` summons the checked departments to the case numbered in the form.
 * Errors appear beside their fields; on success the page reloads and says it is done. */
(function () {
  "use strict";

  const citygrid = window.citygrid;

  function done() {
    citygrid.flash(citygrid.t("done.reload"));
    window.location.reload();
  }

  function setBusy(form, busy) {
    for (const button of form.querySelectorAll("button")) button.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async function sendMultipart(form) {
    const data = new FormData();
    for (const control of form.querySelectorAll("input[name], textarea[name]")) {
      if (control.type === "file") {
        for (const file of control.files) data.append(control.name, file);
      } else if (control.value.trim() !== "") {
        data.append(control.name, control.value.trim());
      }
    }
    return citygrid.api("POST", form.dataset.url, data);
  }

  async function sendSummons(form) {
    const units = [];
    const hours = form.querySelector('[name="hours"]').value.trim();
    for (const box of form.querySelectorAll('input[name="department_code"]:checked')) {
      const unit = { department_code: box.value };
      if (hours !== "") unit.hours = Number(hours);
      units.push(unit);
    }
    const body = { case_number: form.querySelector('[name="case_number"]').value.trim(), units: units };
    const note = form.querySelector('[name="note"]').value.trim();
    if (note !== "") body.note = note;
    return citygrid.api("POST", form.dataset.url, body);
  }

  async function submit(event) {
    const form = event.target;
    const multipart = form.matches("form.js-multipart");
    if (!multipart && !form.matches("form.js-summons")) return;
    event.preventDefault();
    citygrid.clearErrors(form);
    setBusy(form, true);
    const result = multipart ? await sendMultipart(form) : await sendSummons(form);
    setBusy(form, false);
    if (result.ok) {
      done();
      return;
    }
    citygrid.showFailure(form, result);
  }

  document.addEventListener("submit", submit);
})();
