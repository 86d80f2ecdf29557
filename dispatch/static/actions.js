/* Console and desk: every `form.js-action` takes a case action through the JSON API.
 * The URL is the clicked button's data-url (else the form's); named controls become the JSON
 * body; errors appear beside their fields; on success the page reloads and says it is done.
 * A `.js-handle` form first uploads its photos, then names them in the action. */
(function () {
  "use strict";

  const citygrid = window.citygrid;
  const NUMBER_FIELDS = new Set(["hours"]);

  function doneReload() {
    citygrid.flash(citygrid.t("done.reload"));
    window.location.reload();
  }

  /** The JSON body of a form's named controls (empty ones left out: the API says what is missing). */
  function bodyOf(form, submitter) {
    const omitted = new Set(((submitter && submitter.dataset.omit) || "").split(/\s+/));
    const body = {};
    for (const control of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      if (control.type === "file" || control.type === "checkbox" || omitted.has(control.name)) continue;
      const value = control.value.trim();
      if (value === "") continue;
      body[control.name] = NUMBER_FIELDS.has(control.name) ? Number(value) : value;
    }
    if (submitter && submitter.dataset.intoCaseId) {
      body.into_case_id = Number(submitter.dataset.intoCaseId);
    }
    return body;
  }

  function setBusy(form, busy) {
    for (const button of form.querySelectorAll("button")) button.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
    const region = document.querySelector('main [role="status"]');
    if (busy) {
      citygrid.announce(citygrid.t("working"));
    } else if (region && region.textContent === citygrid.t("working")) {
      citygrid.announce("");
    }
  }

  /** Upload the handling photos once (kept for a retry until the files change); their ids. */
  async function uploadedPhotos(form) {
    const input = form.querySelector('input[type="file"][name="photos"]');
    if (!input || !input.files.length) return { ok: true, ids: [] };
    if (form.uploadedPhotoIds) return { ok: true, ids: form.uploadedPhotoIds };
    const data = new FormData();
    for (const file of input.files) data.append("photos", file);
    const result = await citygrid.api("POST", form.dataset.photosUrl, data);
    if (!result.ok) return { ok: false, result: result };
    form.uploadedPhotoIds = result.body.photo_ids;
    return { ok: true, ids: result.body.photo_ids };
  }

  async function submitHandle(form) {
    const feedback = form.querySelector('[name="reason"]');
    if (!feedback.value.trim()) {
      citygrid.showErrors(form, { detail: "", field: "reason" });
      const target = form.querySelector('[data-field="reason"] .field-error');
      target.textContent = citygrid.t("error.field.reason.handle");
      return null;
    }
    const photos = await uploadedPhotos(form);
    if (!photos.ok) return photos.result;
    const body = bodyOf(form, null);
    body.photo_ids = photos.ids;
    return citygrid.api("POST", form.dataset.url, body);
  }

  async function submitAction(event) {
    const form = event.target;
    if (!form.matches("form.js-action")) return;
    event.preventDefault();
    const submitter = event.submitter;
    citygrid.clearErrors(form);
    setBusy(form, true);
    let result;
    if (form.classList.contains("js-handle")) {
      result = await submitHandle(form);
    } else {
      const url = (submitter && submitter.dataset.url) || form.dataset.url;
      result = await citygrid.api("POST", url, bodyOf(form, submitter));
    }
    setBusy(form, false);
    if (result === null) return;
    if (result.ok) {
      doneReload();
      return;
    }
    citygrid.showFailure(form, result);
  }

  function forgetPhotos(event) {
    const input = event.target;
    if (input.type === "file" && input.form) input.form.uploadedPhotoIds = null;
  }

  document.addEventListener("submit", submitAction);
  document.addEventListener("change", forgetPhotos);
  window.dispatchActions = {
    setBusy, doneReload, announce: citygrid.announce,
  };
})();
