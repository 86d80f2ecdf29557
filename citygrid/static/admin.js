/* Administration pages: every `form.js-admin` sends its named controls to the JSON API and
 * shows the answer's errors beside the fields (citygrid.showErrors).
 *
 * On the form: data-method (POST, PUT, PATCH, DELETE), data-url (a `{name}` in it is taken from
 * the control of that name, which then stays out of the body), data-confirm (asked first),
 * data-next (where to go on success, `{name}` from the answer; else the page reloads).
 * On a control: data-type="int" | "bool" | "int-list" (checkboxes of one name) | "periods"
 * ("08:30-12:00 13:30-17:30"); data-empty="null" sends an empty value as null (else it is left
 * out); data-when="role=department" enables it only while that control has that value. */
(function () {
  "use strict";

  const citygrid = window.citygrid;

  /** "08:30-12:00 13:30-17:30" as [["08:30", "12:00"], ["13:30", "17:30"]]; the text itself
   * when it does not read so (the API then says what is wrong). */
  function periodsOf(text) {
    const parts = text.split(/[\s,;，；]+/).filter(Boolean);
    const periods = parts.map((part) => part.split(/\s*[-–~～]\s*/));
    return periods.every((pair) => pair.length === 2) ? periods : text;
  }

  function typed(control, value) {
    switch (control.dataset.type) {
      case "int": return Number(value);
      case "bool": return control.type === "checkbox" ? control.checked : value === "true";
      case "periods": return periodsOf(value);
      default: return value;
    }
  }

  function urlNames(form) {
    return new Set([...(form.dataset.url || "").matchAll(/\{(\w+)\}/g)].map((found) => found[1]));
  }

  /** The JSON body of the form's enabled named controls, typed as they say. */
  function bodyOf(form) {
    const inUrl = urlNames(form);
    const body = {};
    for (const control of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      const name = control.name;
      if (control.disabled || inUrl.has(name) || control.type === "file") continue;
      if (control.dataset.type === "int-list") {
        body[name] = body[name] || [];
        if (control.checked) body[name].push(Number(control.value));
        continue;
      }
      if (control.type === "radio" && !control.checked) continue;
      if (control.type === "checkbox" && control.dataset.type !== "bool") continue;
      const value = control.type === "checkbox" ? "" : control.value.trim();
      if (value === "" && control.type !== "checkbox") {
        if (control.dataset.empty === "null") body[name] = null;
        continue;
      }
      body[name] = typed(control, value);
    }
    return body;
  }

  /** The form's URL with `{name}` filled in from its controls; null when one is empty. */
  function urlOf(form) {
    let missing = null;
    const url = form.dataset.url.replace(/\{(\w+)\}/g, (whole, name) => {
      const control = form.querySelector('[name="' + CSS.escape(name) + '"]');
      const value = control ? control.value.trim() : "";
      if (!value) missing = missing || name;
      return encodeURIComponent(value);
    });
    return missing ? { missing: missing } : { url: url };
  }

  function nextOf(form, answer) {
    return form.dataset.next.replace(/\{(\w+)\}/g, (whole, name) =>
      encodeURIComponent(answer && answer[name] !== undefined ? answer[name] : ""));
  }

  function showFailure(form, result) {
    if (result.status === 404 && !(result.body && result.body.field)) {
      citygrid.showFormError(form, citygrid.t("error.gone"));
    } else {
      citygrid.showFailure(form, result);
    }
  }

  function setBusy(form, busy) {
    for (const button of form.querySelectorAll("button")) button.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async function submit(event) {
    const form = event.target;
    if (!form.matches("form.js-admin")) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    citygrid.clearErrors(form);
    const target = urlOf(form);
    if (target.missing) {
      citygrid.showErrors(form, { detail: [{ type: "missing", loc: ["body", target.missing] }] });
      return;
    }
    const method = (form.dataset.method || "POST").toUpperCase();
    setBusy(form, true);
    const result = await citygrid.api(method, target.url, method === "DELETE" ? undefined : bodyOf(form));
    setBusy(form, false);
    if (!result.ok) {
      showFailure(form, result);
      return;
    }
    citygrid.flash(citygrid.t("done.saved"));
    if (form.dataset.next) {
      window.location.assign(nextOf(form, result.body));
    } else {
      window.location.reload();
    }
  }

  /** Enable (and show) a `data-when="name=value"` control's wrapper only while it applies. */
  function applyConditions(form) {
    for (const control of form.querySelectorAll("[data-when]")) {
      const [name, value] = control.dataset.when.split("=");
      const source = form.querySelector('[name="' + CSS.escape(name) + '"]');
      const applies = Boolean(source) && source.value === value;
      control.disabled = !applies;
      const wrapper = control.closest(".field");
      if (wrapper) wrapper.classList.toggle("hidden", !applies);
    }
  }

  function onChange(event) {
    const form = event.target.form;
    if (form && form.matches("form.js-admin")) applyConditions(form);
  }

  for (const form of document.querySelectorAll("form.js-admin")) applyConditions(form);
  document.addEventListener("submit", submit);
  document.addEventListener("change", onChange);
})();
