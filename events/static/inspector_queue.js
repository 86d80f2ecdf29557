/* The inspector's offline queue: reports kept on the device (IndexedDB, photos as Blobs) until
 * the network is back, then sent in order, each with the report UUID made when the user pressed
 * submit, so a retry is the same report (the API answers 200 for a replay, never a second case).
 * A report leaves the queue only after a 2xx; a 4xx keeps it with the error until discarded.
 * Used by the report page and "my reports"; exposes window.inspectorQueue. */
(function () {
  "use strict";

  const cg = window.citygrid;
  const setup = JSON.parse(document.getElementById("inspector-setup").textContent || "{}");
  const DB_NAME = "citygrid-inspector";
  const STORE = "reports";
  const RETRY_MS = 30000;
  const EXCERPT_CHARS = 80;
  const language = document.documentElement.lang;
  const inFlight = new Set(); // UUIDs being sent right now: never twice at once
  const results = []; // this page's answers: {uuid, status, number, replayed}
  let database = null;
  let running = null;

  function openDatabase() {
    if (!("indexedDB" in window)) return Promise.reject(new Error("IndexedDB unavailable"));
    if (!database) {
      database = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "uuid" });
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return database;
  }

  /** Run `work(store)` in one transaction; resolves to its request's result once committed. */
  async function inStore(mode, work) {
    const db = await openDatabase();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request ? request.result : undefined);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  }

  const put = (record) => inStore("readwrite", (store) => store.put(record));
  const remove = (uuid) => inStore("readwrite", (store) => store.delete(uuid));

  /** This user's waiting reports, oldest first (a shared phone keeps each user's apart). */
  async function all() {
    const records = (await inStore("readonly", (store) => store.getAll())) || [];
    return records
      .filter((record) => record.user_id === setup.user_id)
      .sort((a, b) => (a.queued_at < b.queued_at ? -1 : a.queued_at > b.queued_at ? 1 : 0));
  }

  function formOf(record) {
    const form = new FormData();
    form.append("report_uuid", record.uuid);
    for (const [name, value] of Object.entries(record.fields)) {
      if (value !== null && value !== undefined && value !== "") form.append(name, String(value));
    }
    for (const photo of record.photos || []) form.append("photos", photo.blob, photo.name);
    return form;
  }

  /** Whether an answer means "try again later" rather than a verdict on the report. */
  function worthRetrying(answer) {
    return answer.offline || answer.status >= 500 || answer.status === 429 || answer.status === 401;
  }

  /** `work()` with the report marked in flight, so no other run sends it meanwhile. */
  async function whileInFlight(record, work) {
    inFlight.add(record.uuid);
    try {
      return await work();
    } finally {
      inFlight.delete(record.uuid);
    }
  }

  const send = (record) => cg.api("POST", "/api/reports", formOf(record));

  function announce(text) {
    const status = document.getElementById("queue-status");
    if (status) status.textContent = text;
  }

  function noteSent(record, answer) {
    const body = answer.body || {};
    results.push({ uuid: record.uuid, status: answer.status, number: body.number, replayed: !!body.replayed });
    announce(cg.t(body.replayed ? "queue.replayed" : "queue.sent", { number: body.number }));
  }

  /** After an answer to a queued report: gone on 2xx, kept with its error on a refusal. */
  async function settle(record, answer) {
    if (answer.ok) {
      await remove(record.uuid);
      noteSent(record, answer);
      return;
    }
    const error = cg.apiErrors(answer.body).map((entry) => entry.text).join(" ");
    results.push({ uuid: record.uuid, status: answer.status, error: error });
    await put(Object.assign({}, record, { error: error, error_status: answer.status }));
    announce(cg.t("queue.refused", { error: error }));
  }

  /** Send one waiting report and settle it; resolves to the API's answer. */
  function sendWaiting(record) {
    return whileInFlight(record, async () => {
      const answer = await send(record);
      if (!worthRetrying(answer)) await settle(record, answer);
      return answer;
    });
  }

  /** Send the waiting reports in order (refused ones only when `retryRefused`: the button);
   * stops at the first network failure. Resolves to how many were sent. */
  async function sendWaitingInOrder(retryRefused) {
    let sentCount = 0;
    const waiting = (await all()).filter((r) => !inFlight.has(r.uuid) && (retryRefused || !r.error));
    if (waiting.length && navigator.onLine) announce(cg.t("queue.sending"));
    for (const record of waiting) {
      if (!navigator.onLine) break;
      if (inFlight.has(record.uuid)) continue;
      const answer = await sendWaiting(record);
      if (worthRetrying(answer)) break;
      if (answer.ok) sentCount += 1;
    }
    return sentCount;
  }

  /** One sending run at a time (the `online` event, the timer and the button may coincide). */
  function sendAll(retryRefused) {
    if (running) return running;
    running = (async () => {
      let sentCount = 0;
      try {
        sentCount = await sendWaitingInOrder(retryRefused);
      } catch (error) {
        announce(cg.t("queue.unavailable"));
      } finally {
        running = null;
        await render();
      }
      const section = document.getElementById("offline-queue");
      if (sentCount && section && section.dataset.reloadAfterSend === "true") window.location.reload();
    })();
    return running;
  }

  /** A report the user just submitted: kept first (nothing is lost if the tab dies), then sent
   * when online. Resolves to {queued: true} or {answer} (the API's, for errors beside fields). */
  function submitNew(record) {
    return whileInFlight(record, () => keepAndSend(record));
  }

  async function keepAndSend(record) {
    let kept = true;
    try {
      await put(record);
    } catch (error) {
      kept = false; // no IndexedDB (private mode): send directly, nothing to fall back on
    }
    if (kept && !navigator.onLine) {
      await render();
      return { queued: true };
    }
    const answer = await send(record);
    if (worthRetrying(answer) && kept) {
      await render();
      return { queued: true };
    }
    if (kept) await remove(record.uuid); // sent, or refused: the form shows the errors
    if (answer.ok) noteSent(record, answer);
    await render();
    return { answer: answer };
  }

  function categoryLabel(record) {
    const category = record.category;
    if (!category) return cg.t("queue.no_category");
    return category.code + " " + (language === "en" ? category.name_en : category.name_zh);
  }

  function itemOf(record) {
    const item = document.createElement("div");
    item.className = "card";
    item.setAttribute("role", "listitem");
    item.dataset.uuid = record.uuid;
    const title = document.createElement("strong");
    title.textContent = categoryLabel(record);
    const when = document.createElement("p");
    when.className = "muted";
    when.textContent = cg.t("queue.queued_at", { time: cg.formatTime(record.queued_at) });
    const text = document.createElement("p");
    const description = record.fields.description || "";
    text.textContent = description.length > EXCERPT_CHARS ? description.slice(0, EXCERPT_CHARS) + "…" : description;
    item.append(title, when, text);
    if (record.error) item.append(refusalOf(record));
    return item;
  }

  function refusalOf(record) {
    const box = document.createElement("div");
    const error = document.createElement("p");
    error.className = "error";
    error.textContent = cg.t("queue.refused", { error: record.error });
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "danger";
    discard.textContent = cg.t("queue.discard");
    discard.addEventListener("click", async () => {
      await remove(record.uuid);
      announce(cg.t("queue.discarded"));
      await render();
    });
    box.append(error, discard);
    return box;
  }

  /** Show what is waiting: a count, and each report with its time and category. */
  async function render() {
    const section = document.getElementById("offline-queue");
    if (!section) return;
    let records = [];
    try {
      records = await all();
    } catch (error) {
      section.classList.add("hidden");
      return;
    }
    const summary = document.getElementById("queue-summary");
    const count = records.length;
    const counted = count === 1 ? cg.t("queue.count.one") : cg.t("queue.count.other", { n: count });
    summary.textContent = (count ? counted : cg.t("queue.none")) +
      (navigator.onLine ? "" : " " + cg.t("queue.offline"));
    document.getElementById("queue-list").replaceChildren(...records.map(itemOf));
    document.getElementById("queue-send").disabled = count === 0;
    section.classList.toggle("hidden", count === 0 && navigator.onLine);
  }

  document.getElementById("queue-send").addEventListener("click", () => sendAll(true));
  window.addEventListener("online", () => sendAll(false));
  window.addEventListener("offline", () => render());
  window.setInterval(() => {
    if (navigator.onLine) sendAll(false);
  }, RETRY_MS);
  render().then(() => (navigator.onLine ? sendAll(false) : null));

  window.inspectorQueue = { all, put, remove, sendAll, submitNew, render, results };
})();
