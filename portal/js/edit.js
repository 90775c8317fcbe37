/* Edit a pending record (R21): the dialog prefilled with the record, and its PATCH of the changed fields. */

import { jobPath } from "./api.js";
import { $, toast } from "./dom.js";
import { amount, amountText } from "./format.js";
import { clearFormError, clearInvalidOnInput, isBusy, localError, patchForm } from "./forms.js";
import { reload, state } from "./state.js";

const TEXT_FIELDS = ["invoice_date", "title", "description", "item_description"];

let editing = null;  // the record open in the dialog, as listed

function basis() {
  return $('#edit-form input[name="basis"]:checked').value;
}

/** The record's own basis and value: a record made by percent keeps its percent. */
function originalBasis(record) {
  return record.percent !== null && record.percent !== undefined
    ? { basis: "percent", value: String(record.percent) }
    : { basis: "amount", value: String(record.amount) };
}

function renderBasis() {
  const job = state.job;
  const input = $("#ef-value");
  const c = job.currency;
  if (basis() === "percent") {
    input.setAttribute("aria-label", "Percent of the job total");
    input.placeholder = "25";
    $("#ef-suffix").textContent = "%";
    $("#ef-value-hint").textContent = `Percent of the job total, ${amountText(job.total, c)}`;
  } else {
    input.setAttribute("aria-label", `Amount in ${c}`);
    input.placeholder = editing ? editing.amount : "";
    $("#ef-suffix").textContent = c;
    $("#ef-value-hint").textContent = `Remaining ${amountText(job.billing.remaining, c)}, of which ` +
      `${amount(job.billing.pending_scheduled, c)} scheduled (this record's ${amount(editing.amount, c)} included)`;
  }
}

export function openEditDialog(record) {
  editing = record;
  const form = $("#edit-form");
  form.reset();
  clearFormError($("#edit-error"), form);
  for (const name of TEXT_FIELDS) form.elements[name].value = record[name] || "";
  const original = originalBasis(record);
  form.querySelector(`input[name="basis"][value="${original.basis}"]`).checked = true;
  form.elements.amtpct.value = original.value;
  $("#edit-explain").textContent =
    `“${record.title || record.record_id}”, ${amountText(record.amount, record.currency)}, is pending: the automation ` +
    "invoices it on its date. Only the fields you change are sent.";
  renderBasis();
  $("#edit-dialog").showModal();
  $("#ef-title").focus();
}

/** Only what differs from the record: text as typed (empty clears it), the amount or percent as a string. */
function editBody(form, record) {
  const body = {};
  for (const name of TEXT_FIELDS) {
    const value = form.elements[name].value;
    if (value !== (record[name] || "")) body[name] = value;
  }
  const original = originalBasis(record);
  const value = form.elements.amtpct.value.trim();
  if (basis() !== original.basis || value !== original.value) body[basis()] = value;
  return body;
}

async function submitEdit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (isBusy(form)) return;   // still sending the last submit
  const box = $("#edit-error");
  const record = editing;
  if (!record) return;
  if (form.elements.invoice_date.value === "") {
    localError(box, form, "Enter an invoice date: a scheduled record needs one.", "invoice_date");
    form.elements.invoice_date.focus();
    return;
  }
  if (form.elements.amtpct.value.trim() === "") {
    localError(box, form, "Enter an amount or a percentage in Amt/Pct.", "value");
    form.elements.amtpct.focus();
    return;
  }
  const body = editBody(form, record);
  if (Object.keys(body).length === 0) {
    localError(box, form, "Nothing to save: no field was changed.");
    return;
  }
  const { kind, id } = state.current;
  await patchForm({
    form, box, path: `${jobPath(kind, id)}/progress-billings/${encodeURIComponent(record.record_id)}`,
    body, noun: state.job.kind, currency: state.job.currency, event,
  }, async (saved) => {
    $("#edit-dialog").close();
    editing = null;
    toast(`Record “${saved.title || saved.record_id}” saved: ${amountText(saved.amount, saved.currency)} on ${saved.invoice_date}.`);
    await reload();
  });
}

export function bindEditDialog() {
  const form = $("#edit-form");
  form.addEventListener("submit", submitEdit);
  clearInvalidOnInput(form);
  form.querySelectorAll('input[name="basis"]').forEach((radio) =>
    radio.addEventListener("change", () => { renderBasis(); $("#ef-value").focus(); }));
  $("#edit-dialog").addEventListener("close", () => { editing = null; });
}
