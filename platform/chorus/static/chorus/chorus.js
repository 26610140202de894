// Behaviour that templates ask for with data attributes. The Content-Security-Policy runs no inline
// script, no on...= handler and no htmx hx-on attribute, so it lives here.
document.addEventListener("htmx:afterRequest", (event) => {
  // <form data-reset-on-success>: empty the form once htmx has sent it successfully.
  if (event.detail.successful && event.target.matches("form[data-reset-on-success]")) event.target.reset();
});

document.addEventListener("change", (event) => {
  // <select data-submit-on-change>: a filter that applies as soon as it is chosen.
  if (event.target.matches("[data-submit-on-change]")) event.target.form.submit();
});
