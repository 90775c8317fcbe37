/* The final invoice: the confirmation dialog with the figures, and its POST. */

import { jobPath } from "./api.js";
import { $, clear, h, toast } from "./dom.js";
import { amountText } from "./format.js";
import { clearFormError, isBusy, postForm } from "./forms.js";
import { countRecords, reload, state } from "./state.js";

function openFinalDialog() {
  const job = state.job;
  const b = job.billing;
  const c = job.currency;
  const pending = countRecords("pending");
  $("#final-explain").textContent =
    `The final invoice recognizes the revenue of ${job.kind} ${job.id}, reverses its ` +
    `${b.deposit_invoice_count} deposit invoice(s) and bills the balance due.` +
    (pending ? ` ${pending} scheduled record(s) will be cancelled.` : "");
  const facts = clear($("#final-facts"));
  const rows = [
    ["Job total", job.total], ["Billed by shipment invoices", b.shipments_billed],
    ["Deposits to reverse", b.deposits_billed], ["Balance due on the final invoice", b.remaining],
  ];
  for (const [label, value] of rows) facts.append(h("li", {}, h("span", {}, label), h("span", {}, amountText(value, c))));
  const form = $("#final-form");
  form.reset();
  clearFormError($("#final-error"), form);
  $("#final-dialog").showModal();
}

async function submitFinal(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (isBusy(form)) return;   // still sending the last submit
  const body = {};
  if (form.elements.invoice_date.value) body.invoice_date = form.elements.invoice_date.value;
  if (form.elements.title.value.trim()) body.title = form.elements.title.value;
  const { kind, id } = state.current;
  await postForm({
    form, box: $("#final-error"), name: `final:${kind}/${id}`, path: `${jobPath(kind, id)}/final-invoice`,
    body, noun: state.job.kind, currency: state.job.currency, event, busyLabel: "Creating…",
  }, async (result) => {
    $("#final-dialog").close();
    state.invoiceId = result.invoice.invoice_id;
    toast(`Final invoice ${result.invoice.number} created: balance due ${amountText(result.invoice.total, result.invoice.currency)}.`);
    await reload();
  });
}

export function bindFinalDialog() {
  $("#final-open").addEventListener("click", openFinalDialog);
  $("#final-form").addEventListener("submit", submitFinal);
}
