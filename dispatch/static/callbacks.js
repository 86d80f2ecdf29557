/* Callbacks page: "Show phone" reads the caller through the audited caller view
 * (GET /api/hotline/tickets/{id}/caller) and shows it in place of the masked number. */
(function () {
  "use strict";

  const citygrid = window.citygrid;

  async function showCaller(event) {
    const button = event.target.closest("button.js-show-caller");
    if (!button) return;
    const cell = button.closest("td");
    const result = await citygrid.api(
      "GET", "/api/hotline/tickets/" + button.dataset.ticketId + "/caller?reason=callback");
    if (!result.ok) {
      citygrid.announce(citygrid.t("caller.failed"));
      return;
    }
    cell.querySelector(".caller-phone").textContent =
      (result.body.name ? result.body.name + " " : "") + (result.body.phone || "");
    button.hidden = true;
  }

  document.addEventListener("click", showCaller);
})();
