// The interview page. A long request (drafting a card takes minutes on CPU) shows how long it has
// been running: an indicator holding [data-elapsed] counts up while its form's request is in flight.
(function () {
  const clocks = new Map(); // form -> interval id

  function format(seconds) {
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function indicatorOf(form) {
    const selector = form.getAttribute("hx-indicator");
    return selector ? document.querySelector(selector) : null;
  }

  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.target.closest("form");
    const clock = form && indicatorOf(form)?.querySelector("[data-elapsed]");
    if (!clock) return;
    const started = Date.now();
    clock.textContent = format(0);
    const tick = setInterval(() => {
      if (!clock.isConnected) { clearInterval(tick); return; } // the panel was replaced by the answer
      clock.textContent = format(Math.floor((Date.now() - started) / 1000));
    }, 1000);
    clocks.set(form, tick);
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.target.closest("form");
    if (form && clocks.has(form)) { clearInterval(clocks.get(form)); clocks.delete(form); }
  });
})();
