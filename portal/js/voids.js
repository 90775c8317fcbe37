/* Void an invoice by a credit note (R14; group billing-admins): the dialog with a reason and a void
 * date, its POST, and the credit note opened afterwards. */

import { $, clear, h, toast } from "./dom.js";
import { amountText, negated } from "./format.js";
import { clearFormError, clearInvalidOnInput, isBusy, localError, postForm } from "./forms.js";
import { isAdmin } from "./identity.js";
import { reload, state } from "./state.js";

const TYPE_NOUN = { deposit: "deposit invoice", shipment: "shipment invoice", final: "final invoice" };

let voiding = null;  // the invoice open in the dialog

/** Whether to offer Void on ``inv``: to an admin, on an invoice that is neither voided nor a credit note. */
export function canVoid(inv) {
  return isAdmin() && inv.type !== "credit_note" && inv.status !== "voided";
}

/** What voiding ``inv`` changes besides issuing the credit note, in a sentence. */
function effect(inv) {
  const noun = inv.kind || "job";
  switch (inv.type) {
    case "deposit":
      return `Its progress billing record becomes voided and its ${amountText(inv.total, inv.currency)} no longer counts ` +
        `as billed: that room can be billed again, and no final invoice reverses it.`;
    case "shipment":
      return `Shipment ${inv.shipment_id || ""} shows its invoice voided: its quantities are unbilled again, ` +
        "and the final invoice bills them.";
    case "final":
      return `The ${noun} ${inv.job_id} reopens: its deposits are held again, billing continues, and a new final ` +
        "invoice closes it later. Records the final invoice cancelled stay cancelled.";
    default:
      return "";
  }
}

export function openVoidDialog(inv) {
  voiding = inv;
  const form = $("#void-form");
  form.reset();
  clearFormError($("#void-error"), form);
  $("#void-heading").textContent = `Void ${TYPE_NOUN[inv.type] || "invoice"} ${inv.number}?`;
  $("#void-explain").textContent = `A credit note with its own number negates every line of ${inv.number} and ` +
    `reverses its journal entry. ${effect(inv)}`;
  const facts = clear($("#void-facts"));
  const rows = [
    [`${inv.number} of ${inv.invoice_date}`, amountText(inv.total, inv.currency)],
    ["Credit note total", amountText(negated(inv.total), inv.currency)],
  ];
  for (const [label, value] of rows) facts.append(h("li", {}, h("span", {}, label), h("span", {}, value)));
  $("#void-dialog").showModal();
  $("#vf-reason").focus();
}

async function submitVoid(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (isBusy(form)) return;   // still sending the last submit
  const box = $("#void-error");
  const inv = voiding;
  if (!inv) return;
  if (form.elements.reason.value.trim() === "") {
    localError(box, form, "Enter a reason: the credit note states why the invoice is voided.", "reason");
    form.elements.reason.focus();
    return;
  }
  const body = { reason: form.elements.reason.value };
  if (form.elements.void_date.value) body.void_date = form.elements.void_date.value;
  await postForm({
    form, box, name: `void:${inv.invoice_id}`, path: `/invoices/${encodeURIComponent(inv.invoice_id)}/void`,
    body, noun: inv.kind || "job", currency: inv.currency, action: "void", event, busyLabel: "Voiding…",
  }, async (result) => {
    $("#void-dialog").close();
    voiding = null;
    const note = result.credit_note;
    state.invoiceId = note.invoice_id;
    toast(`Credit note ${note.number} voids ${inv.number}: ${amountText(note.total, note.currency)}.` +
      (inv.type === "final" ? ` ${inv.job_id} is open again.` : ""));
    await reload();
  });
}

export function bindVoidDialog() {
  const form = $("#void-form");
  form.addEventListener("submit", submitVoid);
  clearInvalidOnInput(form);
  $("#void-dialog").addEventListener("close", () => { voiding = null; });
}
