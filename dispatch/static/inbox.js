/* The inbox page: opening a notice's case marks it read, as do its button and "mark all read".
 * Changes go through the JSON API (POST /api/inbox/{id}/read, /api/inbox/read-all). */
(function () {
  "use strict";

  const citygrid = window.citygrid;
  const status = document.getElementById("inbox-status");

  function showFailure() {
    status.textContent = citygrid.t("inbox.failed");
    status.hidden = false;
  }

  function shownRead(item) {
    item.classList.replace("unread", "read");
    for (const element of item.querySelectorAll(".inbox-unread-label, .inbox-mark-read")) {
      element.remove();
    }
    citygrid.refreshInboxBadge();
  }

  async function markRead(item) {
    const answer = await citygrid.api("POST", "/api/inbox/" + item.dataset.notificationId + "/read");
    if (answer.ok) shownRead(item);
    return answer.ok;
  }

  /* The case opens at once (here or in a new tab): the notice is marked read by a request that
   * outlives the page (keepalive), so the click never waits for it. */
  function markReadOnTheWay(item) {
    fetch("/api/inbox/" + item.dataset.notificationId + "/read", {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: { "X-Citygrid-Page": "1", Accept: "application/json" },
    }).catch(() => {});
    shownRead(item);
  }

  function onOpen(event) {
    const link = event.target.closest("a.inbox-open");
    const item = link && link.closest(".inbox-item.unread");
    if (item && (event.type === "click" || event.button === 1)) markReadOnTheWay(item);
  }

  document.addEventListener("click", onOpen);
  document.addEventListener("auxclick", onOpen);

  document.addEventListener("click", async (event) => {
    const button = event.target.closest(".inbox-mark-read");
    if (!button) return;
    button.disabled = true;
    if (!(await markRead(button.closest(".inbox-item")))) {
      button.disabled = false;
      showFailure();
    }
  });

  const readAll = document.getElementById("inbox-read-all");
  if (readAll) {
    readAll.addEventListener("click", async () => {
      readAll.disabled = true;
      const answer = await citygrid.api("POST", "/api/inbox/read-all");
      if (answer.ok) {
        window.location.reload();
      } else {
        readAll.disabled = false;
        showFailure();
      }
    });
  }
})();
