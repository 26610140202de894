// Behaviour that templates ask for with data attributes. The Content-Security-Policy runs no inline
// script, no on...= handler and no htmx hx-on attribute, so it lives here.
document.addEventListener("htmx:afterRequest", (event) => {
  // <form data-reset-on-success>: empty the form once the server has taken what it sent. Only a 2xx:
  // a refusal (4xx, shown by the page) must leave the person's words where they typed them.
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (status >= 200 && status < 300 && event.target.matches("form[data-reset-on-success]")) event.target.reset();
});

document.addEventListener("change", (event) => {
  // <select data-submit-on-change>: a filter that applies as soon as it is chosen.
  if (event.target.matches("[data-submit-on-change]")) event.target.form.submit();
});

// <button data-confirm="question"> (or <form data-confirm>): ask before an action that is hard to undo.
// Capturing on the document runs before htmx's own submit listener on the form, so "Cancel" stops both.
document.addEventListener("submit", (event) => {
  const asking = (event.submitter && event.submitter.closest("[data-confirm]"))
    || (event.target.matches("form[data-confirm]") ? event.target : null);
  if (asking && !window.confirm(asking.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// <form data-hold-while-streaming>: its submit buttons wait while a reply streams in (an SSE element
// that has opened and not yet closed), so a message is never sent into a refusal; what the person
// is typing stays in the form meanwhile.
function holdForms() {
  const streaming = document.querySelector("[data-streaming]") !== null;
  for (const form of document.querySelectorAll("form[data-hold-while-streaming]")) {
    for (const button of form.querySelectorAll("button[type=submit], button:not([type])")) button.disabled = streaming;
    const hint = form.querySelector("[data-streaming-hint]");
    if (hint) hint.hidden = !streaming;
  }
}
document.addEventListener("htmx:sseOpen", (event) => { event.target.dataset.streaming = "1"; holdForms(); });
function streamEnded(element) {
  const source = element.closest("[data-streaming]");
  if (source) delete source.dataset.streaming;
  holdForms();
}
for (const name of ["htmx:sseClose", "htmx:sseError"]) document.addEventListener(name, (event) => streamEnded(event.target));
document.addEventListener("htmx:sseBeforeMessage", (event) => {
  if (event.detail && event.detail.type === "done") streamEnded(event.target);
});
document.addEventListener("htmx:afterSwap", holdForms);
