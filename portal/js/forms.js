/* Forms: API errors in plain words next to the form, busy buttons, the POST of a form with its
 * Idempotency-Key, and the generic confirmation dialog. */

import { api, forgetKey, keyFor } from "./api.js";
import { $, capitalize, h } from "./dom.js";
import { CODE_MESSAGES, plainDetail } from "./errors.js";
import { amountText } from "./format.js";

const FIELD_LABELS = {
  invoice_date: "Invoice date", title: "Title", description: "Description",
  item_description: "Item description", amount: "Amount", percent: "Percent",
  schedule: "Schedule", body: "Request", id: "Job ID", customer_id: "Customer ID",
  customer_name: "Customer name", currency: "Currency", lines: "Lines", reason: "Reason",
  void_date: "Void date", date: "Date", "Idempotency-Key": "Idempotency key", tax_code: "Tax code",
};

/** The field's label: the form's own (the input it names, by its aria-label or data-label), else a generic one. */
function fieldLabel(field, form) {
  const input = field && form ? form.querySelector(`[data-field="${CSS.escape(field)}"]`) : null;
  const own = input && (input.getAttribute("aria-label") || input.dataset.label);
  if (own && /^lines\[/.test(field)) return own;
  const line = /^lines\[(\d+)\]\.(\w+)$/.exec(field || "");
  if (line) return `Line ${Number(line[1]) + 1} ${line[2].replace(/_/g, " ")}`;
  return FIELD_LABELS[field] || field || "Request";
}

// What NOT_PENDING means depends on the action refused: Cancel and Edit need a pending record, Retry a failed one.
const NOT_PENDING = {
  cancel: "Only a pending record can be cancelled; this one was already invoiced or closed.",
  edit: "Only a pending record can be edited; this one was already invoiced, cancelled or failed.",
  retry: "Only a failed record can be retried; this one is no longer failed.",
};

// What JOB_FINALIZED and FORBIDDEN mean for a void (R14) and a change order (R15).
const FINALIZED = {
  change: (noun) => `This ${noun} is finalized: its final invoice was issued, so its lines cannot change. ` +
    "Void the final invoice to reopen it first.",
};
const FORBIDDEN = {
  void: "Only a billing administrator (group billing-admins) can void an invoice.",
  change: "Only billing clerks and administrators can issue a change order.",
  settings: "Only a billing administrator (group billing-admins) can change the settings.",
  automation: "Only a billing administrator (group billing-admins) can run the automation.",
};

function plainMessage(err, noun, currency, action) {
  const detail = err.details[0] || {};
  switch (err.code) {
    case "OVERBILLING":
      if (detail.available !== undefined) {
        return `This would bill more than the ${noun} total. At most ${amountText(detail.available, currency)} can ` +
          `still be billed (total ${amountText(detail.job_total, currency)}, already billed or scheduled ` +
          `${amountText(detail.committed, currency)}).`;
      }
      return capitalize(err.message);
    case "JOB_FINALIZED":
      if (action === "void") return capitalize(err.message);  // names the final invoice to void first
      if (FINALIZED[action]) return FINALIZED[action](noun);
      return `This ${noun} is finalized: its final invoice was issued, so nothing more can be billed.`;
    case "NOT_PENDING":
      return NOT_PENDING[action] || NOT_PENDING.cancel;
    case "VALIDATION_ERROR":
      return "Please correct the highlighted fields:";
    case "IDEMPOTENCY_CONFLICT":
      return "This request was already sent with other values. Please send it again.";
    case "ALREADY_EXISTS":
      return `${capitalize(err.message)}. Choose another ID.`;
    case "BUSY":
      return "Someone else is changing this job right now. Please try again in a moment.";
    case "UNAUTHORIZED":
      return "You are not signed in (the service needs a valid token).";
    case "FORBIDDEN":
      return FORBIDDEN[action] || "You are not allowed to do this.";
    case "NETWORK":
    case "UNSUPPORTED_MEDIA_TYPE":
      return CODE_MESSAGES[err.code];
    case "NOT_FOUND":
      return `${capitalize(err.message)}: it may have been removed meanwhile. Refresh the page.`;
    default:
      if (err.status >= 500) return `The billing service failed (${err.status}): nothing may have been saved. Try again.`;
      return capitalize(err.message);
  }
}

/**
 * Show an API error in a form's error box and mark the fields it names. ``action`` (cancel, edit,
 * retry, void, change, settings) words a NOT_PENDING, JOB_FINALIZED or FORBIDDEN refusal.
 */
export function showFormError(box, form, err, noun, currency, action = "cancel") {
  clearFormError(box, form);
  const children = [h("strong", {}, plainMessage(err, noun, currency, action))];
  if (err.code === "VALIDATION_ERROR" && err.details.length) {
    children.push(h("ul", {}, err.details.map((d) =>
      h("li", { "data-error-field": d.field || "" }, plainDetail(d.field, d.message, fieldLabel(d.field, form), currency)))));
  }
  box.replaceChildren(...children);
  box.hidden = false;
  for (const d of err.details) markField(form, d.field);
}

function markField(form, field) {
  if (!field) return;
  let input = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
  if (!input && (field === "amount" || field === "percent")) input = form.querySelector('[data-field="value"]');
  if (input) input.setAttribute("aria-invalid", "true");
}

export function clearFormError(box, form) {
  box.hidden = true;
  box.replaceChildren();
  form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
}

export function localError(box, form, message, field) {
  clearFormError(box, form);
  box.replaceChildren(h("strong", {}, message));
  box.hidden = false;
  markField(form, field);
}

/** Typing in a field clears its error outline. */
export function clearInvalidOnInput(form) {
  form.addEventListener("input", (event) => event.target.removeAttribute("aria-invalid"));
}

/**
 * A button's "Saving…" state: disabled, a spinner and ``label`` in place of its text (restored after).
 * Returns the function that restores it.
 */
export function busyButton(button, label = "Saving…") {
  if (!button) return () => {};
  const children = Array.from(button.childNodes);
  const width = button.getBoundingClientRect().width;
  button.disabled = true;
  button.dataset.busy = "true";
  button.setAttribute("aria-busy", "true");
  if (width) button.style.minWidth = `${Math.ceil(width)}px`;   // the button keeps its size
  button.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), label);
  return () => {
    button.replaceChildren(...children);
    delete button.dataset.busy;
    button.removeAttribute("aria-busy");
    button.style.minWidth = "";
    button.disabled = button.dataset.locked === "true";
  };
}

/** A form's buttons disabled while it sends (``submitter`` shows "Saving…"); returns the restore. */
export function setBusy(form, submitter, label) {
  form.setAttribute("aria-busy", "true");
  const buttons = Array.from(form.querySelectorAll("button")).filter((b) => b !== submitter);
  buttons.forEach((b) => { b.disabled = true; });
  const restore = busyButton(submitter, label);
  return () => {
    restore();
    buttons.forEach((b) => { b.disabled = b.dataset.locked === "true"; });
    form.setAttribute("aria-busy", "false");
  };
}

/** Whether ``form`` is sending already (Enter pressed again, a second click that beat the disabling). */
export function isBusy(form) {
  return form.getAttribute("aria-busy") === "true";
}

/** The button that submits ``event``'s form: the one clicked, else the form's first submit button. */
function submitterOf(form, event) {
  return (event && event.submitter) || form.querySelector('button[type="submit"]');
}

/**
 * POST a form's body with the form's Idempotency-Key, its buttons disabled meanwhile. On success the
 * key is forgotten and ``onSuccess(result)`` is awaited (still busy); an error is shown in ``box``.
 */
export function postForm({ form, box, name, path, body, noun, currency, action, event, busyLabel }, onSuccess) {
  return sendForm({ form, box, method: "POST", name, path, body, noun, currency, action, event, busyLabel }, onSuccess);
}

/**
 * PATCH a form's body, the same way but with no Idempotency-Key (an edit sent twice is the same
 * change): the Edit dialog of a pending record.
 */
export function patchForm({ form, box, path, body, noun, currency, event }, onSuccess) {
  return sendForm({ form, box, method: "PATCH", path, body, noun, currency, action: "edit", event }, onSuccess);
}

async function sendForm({ form, box, method, name, path, body, noun, currency, action, event, busyLabel }, onSuccess) {
  if (isBusy(form)) return;   // one request per form at a time: a double click cannot send twice
  const key = name ? keyFor(name, body) : undefined;
  clearFormError(box, form);
  const restore = setBusy(form, submitterOf(form, event), busyLabel);
  try {
    const result = await api(method, path, body, key);
    if (name) forgetKey(name);
    await onSuccess(result);
  } catch (err) {
    if (name && err.code === "IDEMPOTENCY_CONFLICT") forgetKey(name);
    showFormError(box, form, err, noun, currency, action);
  } finally {
    restore();
  }
}

/** The confirmation dialog: resolves true when the user confirms. */
export function confirmAction(title, text, yesLabel) {
  const dialog = $("#confirm-dialog");
  $("#confirm-heading").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-yes").textContent = yesLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}
