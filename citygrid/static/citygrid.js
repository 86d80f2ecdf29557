/* citygrid pages' shared helpers: translated messages, API calls, errors shown beside fields.
 * No dependencies; every page script uses window.citygrid. */
(function () {
  "use strict";

  const messagesElement = document.getElementById("citygrid-messages");
  const messages = messagesElement ? JSON.parse(messagesElement.textContent || "{}") : {};

  /** The translated text of `key` (from the page's catalogue), `{name}` replaced by params. */
  function t(key, params) {
    let text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    for (const [name, value] of Object.entries(params || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  /** Call the JSON API with the page's session cookie; resolves to {ok, status, body}.
   * body may be a plain object (sent as JSON), FormData (multipart) or undefined. A network
   * failure resolves to {ok: false, status: 0, offline: true}. */
  async function api(method, url, body, extraHeaders) {
    const headers = Object.assign({ "X-Citygrid-Page": "1", Accept: "application/json" },
      extraHeaders || {});
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      return { ok: false, status: 0, offline: true, body: null };
    }
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    }
    const type = response.headers.get("Content-Type") || "";
    const parsed = type.includes("json") ? await response.json() : await response.text();
    return { ok: response.ok, status: response.status, body: parsed, offline: false };
  }

  /** The field an API error is about: the last part of a validation error's location, or a
   * domain error's `field`. */
  function errorField(entry) {
    if (Array.isArray(entry.loc)) {
      const names = entry.loc.filter((part) => typeof part === "string" && part !== "body");
      return names.length ? names[names.length - 1] : "";
    }
    return entry.field || "";
  }

  /** One API error in the user's language: validation errors by their type (with the limits
   * they name), domain errors by their field; the server's English detail stays available. */
  function errorText(entry, fallbackDetail) {
    if (entry.type) {
      const key = "error." + entry.type;
      if (Object.prototype.hasOwnProperty.call(messages, key)) return t(key, entry.ctx || {});
      return t("error.invalid");
    }
    const fieldKey = "error.field." + (entry.field || "");
    if (Object.prototype.hasOwnProperty.call(messages, fieldKey)) return t(fieldKey);
    return t("error.invalid") + (fallbackDetail ? " (" + fallbackDetail + ")" : "");
  }

  /** The errors of an API answer as [{field, text}]. */
  function apiErrors(body) {
    if (body && Array.isArray(body.detail)) {
      return body.detail.map((entry) => ({ field: errorField(entry), text: errorText(entry) }));
    }
    if (body && typeof body.detail === "string") {
      return [{ field: body.field || "", text: errorText({ field: body.field }, body.detail) }];
    }
    return [{ field: "", text: t("error.unknown") }];
  }

  function clearErrors(form) {
    for (const element of form.querySelectorAll(".field-error")) {
      element.textContent = "";
      element.hidden = true;
    }
    for (const element of form.querySelectorAll("[aria-invalid]")) {
      element.removeAttribute("aria-invalid");
    }
  }

  /** Show an API answer's errors next to their fields: an element `.field-error` inside the
   * `[data-field="name"]` wrapper (the form's general `.form-error` when no field matches). */
  function showErrors(form, body) {
    clearErrors(form);
    let firstInvalid = null;
    for (const error of apiErrors(body)) {
      const wrapper = error.field ? form.querySelector('[data-field="' + CSS.escape(error.field) + '"]') : null;
      const target = (wrapper && wrapper.querySelector(".field-error")) || form.querySelector(".form-error");
      if (!target) continue;
      target.textContent = target.textContent ? target.textContent + " " + error.text : error.text;
      target.hidden = false;
      const control = wrapper && wrapper.querySelector("input, select, textarea");
      if (control) {
        control.setAttribute("aria-invalid", "true");
        firstInvalid = firstInvalid || control;
      }
    }
    if (firstInvalid) firstInvalid.focus();
  }

  /** A date-time in the page's language and the viewer's time zone. */
  function formatTime(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(document.documentElement.lang || undefined,
      { dateStyle: "short", timeStyle: "short" });
  }

  /* The unread count beside the inbox in the navigation. Fetched by the page rather than
   * rendered with it: pages are rendered without a database session of their own, and a page
   * left open all day (the console, the desk) must see new notices come in. A plain fetch, not
   * api(): a background poll never sends the user to the login page. */
  const INBOX_POLL_MS = 60000;
  const INBOX_BADGE_MAX = 99;

  async function refreshInboxBadge() {
    const badge = document.getElementById("inbox-badge");
    if (!badge || document.hidden) return;
    let answer;
    try {
      const response = await fetch("/api/inbox?unread=true&limit=1",
        { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      answer = await response.json();
    } catch (error) {
      return;  // offline: keep what is shown
    }
    const count = Number(answer.unread_count) || 0;
    badge.querySelector(".nav-badge-count").textContent =
      count > INBOX_BADGE_MAX ? INBOX_BADGE_MAX + "+" : String(count);
    badge.hidden = count === 0;
  }

  if (document.getElementById("inbox-badge")) {
    refreshInboxBadge();
    window.setInterval(refreshInboxBadge, INBOX_POLL_MS);
    document.addEventListener("visibilitychange", refreshInboxBadge);
  }

  /** One message above a form's buttons (its `.form-error`), the fields' own errors cleared. */
  function showFormError(form, text) {
    clearErrors(form);
    const target = form.querySelector(".form-error");
    if (!target) return;
    target.textContent = text;
    target.hidden = false;
  }

  /** An API call that failed, said on its form: no network, not allowed, or the answer's
   * errors beside the fields (the page's messages name "error.forbidden"). */
  function showFailure(form, result) {
    if (result.offline) {
      showFormError(form, t("error.network"));
    } else if (result.status === 403) {
      showFormError(form, t("error.forbidden"));
    } else {
      showErrors(form, result.body);
    }
  }

  // Outcomes said on the page an action leads to (after its reload or redirect).
  const FLASH_KEY = "citygrid.flash";

  /** Say something in the page's live region (`main [role=status]`), hidden when empty. */
  function announce(text) {
    const region = document.querySelector('main [role="status"]');
    if (!region) return;
    region.textContent = text;
    region.hidden = !text;
  }

  /** Say `text` on the next page this tab shows: an action that reloads or leaves the page. */
  function flash(text) {
    sessionStorage.setItem(FLASH_KEY, text);
  }

  function showFlash() {
    const text = sessionStorage.getItem(FLASH_KEY);
    if (!text) return;
    sessionStorage.removeItem(FLASH_KEY);
    announce(text);
  }

  showFlash();
  window.citygrid = { t, api, apiErrors, showErrors, clearErrors, formatTime, messages,
    refreshInboxBadge, announce, flash, showFormError, showFailure };
})();
