/* Progress billing: the record form (Create now or Schedule, by amount or percent) and the records,
 * with Edit and Cancel on a pending record and Retry on a failed one; a voided record links its
 * credit note (R14). */

import { api, forgetKey, jobPath, keyFor } from "./api.js";
import { $, clear, h, toast } from "./dom.js";
import { openEditDialog } from "./edit.js";
import { amount, amountText, badge, money, zeroLike } from "./format.js";
import { busyButton, clearFormError, clearInvalidOnInput, confirmAction, isBusy, localError, postForm, showFormError } from "./forms.js";
import { invoiceLink } from "./invoices.js";
import { KIND_NOUN, reload, state } from "./state.js";

const TEXT_FIELDS = ["invoice_date", "title", "description", "item_description"];

// ---- the records --------------------------------------------------------------------------------

function sortedRecords() {
  return state.records.slice().sort((a, b) =>
    String(a.invoice_date).localeCompare(String(b.invoice_date)) ||
    String(a.created_at).localeCompare(String(b.created_at)));
}

export function renderRecords() {
  const body = clear($("#records-table tbody"));
  const records = sortedRecords();
  $("#records-empty").hidden = records.length > 0;
  for (const record of records) body.append(recordRow(record));
}

function recordRow(r) {
  const subtitle = [r.item_description, r.description].filter(Boolean).join(" · ");
  const muted = r.status === "cancelled" || r.status === "voided";
  return h("tr", { "data-record": r.record_id, class: muted ? "row-muted" : null },
    h("td", { class: "nowrap" }, r.invoice_date,
      r.schedule ? h("span", { class: "sub" }, "scheduled") : null),
    h("td", {}, h("span", { class: "cell-title" }, r.title || "(no title)"),
      subtitle ? h("span", { class: "sub" }, subtitle) : null),
    h("td", { class: "num" }, money(r.amount, r.currency)),
    h("td", { class: "num" }, r.percent !== null && r.percent !== undefined ? `${r.percent}%` : "—"),
    h("td", {}, badge(r.status),
      r.failure_reason ? h("span", { class: "reason" }, r.failure_reason) : null),
    h("td", {}, invoiceLink(r.invoice_id),
      r.credit_note_id ? h("span", { class: "sub" }, "voided by ", invoiceLink(r.credit_note_id)) : null),
    h("td", { class: "num" }, recordActions(r)));
}

function recordActions(r) {
  const name = r.title || r.record_id;
  if (r.status === "pending") {
    return h("span", { class: "row-actions" },
      h("button", {
        type: "button", class: "link-button", onclick: () => openEditDialog(r),
        "aria-label": `Edit scheduled record ${name}`,
      }, "Edit"),
      h("button", {
        type: "button", class: "link-button link-danger", onclick: (event) => cancelRecord(r, event.currentTarget),
        "aria-label": `Cancel scheduled record ${name}`,
      }, "Cancel"));
  }
  if (r.status === "failed") {
    return h("span", { class: "row-actions" }, h("button", {
      type: "button", class: "link-button", onclick: (event) => retryRecord(r, event.currentTarget),
      "aria-label": `Retry failed record ${name}`,
    }, "Retry"));
  }
  return null;
}

async function cancelRecord(record, button) {
  const ok = await confirmAction(
    "Cancel this scheduled record?",
    `“${record.title || record.record_id}” for ${amountText(record.amount, record.currency)}, due ` +
    `${record.invoice_date}, will not be invoiced by the automation.`,
    "Cancel record");
  if (!ok) return;
  const { kind, id } = state.current;
  const restore = busyButton(button, "Cancelling…");
  try {
    await api("DELETE", `${jobPath(kind, id)}/progress-billings/${encodeURIComponent(record.record_id)}`);
    toast(`Record “${record.title || record.record_id}” cancelled.`);
  } catch (err) {
    showFormError($("#record-error"), $("#record-form"), err, KIND_NOUN[kind], state.job.currency);
  } finally {
    restore();
  }
  await reload();
}

async function retryRecord(record, button) {
  const ok = await confirmAction(
    "Retry this failed record?",
    `“${record.title || record.record_id}” for ${amountText(record.amount, record.currency)}, due ` +
    `${record.invoice_date}, failed: ${record.failure_reason || "no reason given"}. Retry returns it to pending if it now fits the ` +
    "job total, and the automation invoices it on its next run.",
    "Retry record");
  if (!ok) return;
  const { kind, id } = state.current;
  const name = `retry:${kind}/${id}/${record.record_id}`;
  const restore = busyButton(button, "Retrying…");
  try {
    await api("POST", `${jobPath(kind, id)}/progress-billings/${encodeURIComponent(record.record_id)}/retry`,
      undefined, keyFor(name, null));
    forgetKey(name);
    clearFormError($("#record-error"), $("#records-table"));
    toast(`Record “${record.title || record.record_id}” is pending again.`);
  } catch (err) {
    if (err.code === "IDEMPOTENCY_CONFLICT") forgetKey(name);
    // shown above the records; the form's own fields are not outlined (the table is the "form" here)
    showFormError($("#record-error"), $("#records-table"), err, KIND_NOUN[kind], state.job.currency, "retry");
  } finally {
    restore();
  }
  await reload();
}

// ---- the record form ----------------------------------------------------------------------------

function basis() {
  return $('#record-form input[name="basis"]:checked').value;
}

export function renderRecordForm() {
  const job = state.job;
  const form = $("#record-form");
  const closed = job.status !== "open";
  form.querySelectorAll("input, textarea, button").forEach((el) => {
    el.disabled = closed;
    if (el.tagName === "BUTTON") el.dataset.locked = closed ? "true" : "false";
  });
  form.querySelector(".form-grid").hidden = closed;
  form.classList.toggle("is-closed", closed);
  const notice = $("#record-closed");
  notice.hidden = !closed;
  notice.textContent = closed
    ? `This ${job.kind} is finalized by ${job.final_invoice_id}: no further progress billing.` : "";
  renderBasis();
}

function renderBasis() {
  const input = $("#rf-value");
  const job = state.job;
  const currency = job ? job.currency : "";
  if (basis() === "percent") {
    input.setAttribute("aria-label", "Percent of the job total");
    input.placeholder = "25";
    $("#rf-suffix").textContent = "%";
    $("#rf-value-hint").textContent = job ? `Percent of the job total, ${amountText(job.total, currency)}` : "";
  } else {
    input.setAttribute("aria-label", `Amount in ${currency}`);
    input.placeholder = job ? zeroLike(job.total, currency) : "0.00";
    $("#rf-suffix").textContent = currency;
    $("#rf-value-hint").textContent = job
      ? `${taxed(job) ? "Net of tax. " : ""}Remaining ${amountText(job.billing.remaining, currency)}, of which ` +
        `${amount(job.billing.pending_scheduled, currency)} scheduled` : "";
  }
}

/** R16: whether a line of the job names a tax code (amounts are then net of tax). */
function taxed(job) {
  return job.lines.some((line) => line.tax_code);
}

export function resetRecordForm() {
  const form = $("#record-form");
  form.reset();
  clearFormError($("#record-error"), form);
}

function recordBody(form, schedule) {
  const body = {};
  for (const name of TEXT_FIELDS) {
    const value = form.elements[name].value;
    if (value.trim() !== "") body[name] = value;
  }
  body[basis()] = form.elements.amtpct.value.trim();  // a string, as typed
  if (schedule) body.schedule = true;
  return body;
}

async function submitRecord(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (isBusy(form)) return;   // still sending the last submit
  const box = $("#record-error");
  const schedule = event.submitter && event.submitter.value === "schedule";
  const job = state.job;
  if (form.elements.amtpct.value.trim() === "") {
    localError(box, form, "Enter an amount or a percentage in Amt/Pct.", "value");
    form.elements.amtpct.focus();
    return;
  }
  const { kind, id } = state.current;
  await postForm({
    form, box, name: `record:${kind}/${id}`, path: `${jobPath(kind, id)}/progress-billings`,
    body: recordBody(form, schedule), noun: job.kind, currency: job.currency, event,
    busyLabel: schedule ? "Scheduling…" : "Creating…",
  }, async (result) => {
    for (const name of [...TEXT_FIELDS, "amtpct"]) form.elements[name].value = "";
    announceRecord(result, job.currency);
    if (result.invoice) state.invoiceId = result.invoice.invoice_id;
    await reload();
  });
}

function announceRecord(result, currency) {
  const r = result.record;
  if (result.invoice) {
    toast(`Deposit invoice ${result.invoice.number} created for ${amountText(result.invoice.total, currency)}.`);
  } else {
    toast(`Scheduled ${amountText(r.amount, currency)} for ${r.invoice_date}.`);
  }
}

export function bindRecordForm() {
  const form = $("#record-form");
  form.addEventListener("submit", submitRecord);
  clearInvalidOnInput(form);
  form.querySelectorAll('input[name="basis"]').forEach((radio) =>
    radio.addEventListener("change", () => { renderBasis(); $("#rf-value").focus(); }));
}
