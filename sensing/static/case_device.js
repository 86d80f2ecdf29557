/* Case page: the panel of the device that filed the case (sensing). The server renders it
 * (/sensing/cases/{id}/device, escaped HTML); it is put in place, or the panel stays hidden. */
(function () {
  "use strict";

  async function load() {
    const panel = document.getElementById("case-device");
    if (!panel) return;
    try {
      const answer = await fetch(panel.dataset.url, {
        credentials: "same-origin", headers: { Accept: "text/html" },
      });
      if (!answer.ok) return;
      panel.innerHTML = await answer.text();
      panel.hidden = false;
    } finally {
      panel.setAttribute("aria-busy", "false");
    }
  }

  load();
})();
