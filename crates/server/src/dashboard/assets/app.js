// Regions marked data-live refresh themselves every few seconds, unless the
// user is typing in a form on the page. Without JavaScript, a reload does it.
(function () {
  const PERIOD_MS = 3000;
  async function refresh() {
    const live = document.querySelectorAll("[data-live]");
    const busy = document.activeElement && document.activeElement.closest("form");
    if (live.length === 0 || busy) return;
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok || response.redirected) return;
    const next = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = next.querySelectorAll("[data-live]");
    if (fresh.length !== live.length) return;
    live.forEach((region, i) => {
      if (fresh[i].innerHTML !== region.innerHTML) region.innerHTML = fresh[i].innerHTML;
    });
  }
  setInterval(() => refresh().catch(() => {}), PERIOD_MS);
})();
