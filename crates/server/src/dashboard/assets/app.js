// Lists marked data-live refresh themselves every few seconds, unless the
// user is typing in a form on the page. Without JavaScript, a reload does it.
(function () {
  const PERIOD_MS = 3000;
  async function refresh() {
    const live = document.querySelector("[data-live]");
    const busy = document.activeElement && document.activeElement.closest("form");
    if (!live || busy) return;
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok || response.redirected) return;
    const next = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = next.querySelector("[data-live]");
    if (fresh && fresh.innerHTML !== live.innerHTML) live.innerHTML = fresh.innerHTML;
  }
  setInterval(() => refresh().catch(() => {}), PERIOD_MS);
})();
