/* Verification tasks (核查): pass or fail a handled case with a note and photos, through the case
 * action API; a verified case leaves the list. */
(function () {
  "use strict";

  const cg = window.citygrid;

  function announce(text) {
    document.getElementById("task-status").textContent = text;
  }

  // Photos uploaded for a form whose action then failed: sent again with the retry, not re-uploaded.
  const uploaded = new WeakMap();

  /** The ids of the photos uploaded for the case's next action; null when refused (shown). */
  async function uploadedPhotoIds(form, caseId) {
    const files = form.querySelector('input[name="photos"]').files;
    if (!files.length) return [];
    if (uploaded.has(form)) return uploaded.get(form);
    const upload = new FormData();
    for (const file of files) upload.append("photos", file, file.name);
    const answer = await cg.api("POST", "/api/cases/" + caseId + "/photos", upload);
    if (answer.ok) {
      uploaded.set(form, answer.body.photo_ids);
      return answer.body.photo_ids;
    }
    showRefusal(form, answer);
    return null;
  }

  function showRefusal(form, answer) {
    if (!answer.offline) {
      cg.showErrors(form, answer.body);
      return;
    }
    cg.clearErrors(form);
    const general = form.querySelector(".form-error");
    general.textContent = cg.t("error.network");
    general.hidden = false;
  }

  /** The case is verified: its card leaves the list and focus goes to the next task. */
  function done(form, action) {
    const card = form.closest(".task");
    const next = card.nextElementSibling || card.previousElementSibling;
    card.remove();
    const key = action === "verify_pass" ? "task.passed" : "task.failed";
    announce(cg.t(key, { number: form.dataset.number }));
    if (next) {
      next.querySelector("a").focus();
    } else {
      document.getElementById("tasks-empty").classList.remove("hidden");
      document.getElementById("tasks-title").focus();
    }
  }

  async function verify(event) {
    event.preventDefault();
    const form = event.currentTarget;
    cg.clearErrors(form);
    // The button pressed says the verdict; Enter in a field is not a verdict.
    const verdict = event.submitter && event.submitter.name === "verdict" ? event.submitter : null;
    if (!verdict) return;
    const buttons = form.querySelectorAll('button[type="submit"]');
    for (const button of buttons) button.disabled = true;
    announce(cg.t("task.sending"));
    try {
      const caseId = form.dataset.caseId;
      const photoIds = await uploadedPhotoIds(form, caseId);
      if (photoIds === null) return;
      const note = form.querySelector('[name="reason"]').value.trim();
      const body = {
        reason: note || null,
        photo_ids: photoIds,
        expected_version: Number(form.dataset.version),
      };
      const answer = await cg.api("POST", "/api/cases/" + caseId + "/actions/" + verdict.value, body);
      if (answer.ok) {
        done(form, verdict.value);
      } else {
        showRefusal(form, answer);
      }
    } finally {
      for (const button of buttons) button.disabled = false;
      if (document.getElementById("task-status").textContent === cg.t("task.sending")) announce("");
    }
  }

  for (const form of document.querySelectorAll("form.task-form")) {
    form.addEventListener("submit", verify);
    form.querySelector('input[name="photos"]').addEventListener("change", () => uploaded.delete(form));
  }
})();
