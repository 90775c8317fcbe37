/* The job's header and billing summary: status (and Reopened, R14), progress bar, legend, figures and
 * job lines (with each line's tax code and rate, R16). */

import { $, clear, h } from "./dom.js";
import { amount, amountText, isReopened, lineTax, money, price, quantity, share } from "./format.js";
import { invoiceLink } from "./invoices.js";
import { countRecords, state } from "./state.js";

export function renderHeader() {
  const job = state.job;
  $("#job-kind").textContent = job.kind === "order" ? "Order · Billing" : "Project · Billing";
  $("#job-title").textContent = job.id;
  $("#job-customer").textContent = `${job.customer_name} (${job.customer_id}) · ${job.currency}`;
  const status = $("#job-status");
  status.className = `badge badge-lg badge-${job.status}`;
  status.textContent = job.status;
  const reopened = $("#job-reopened");
  reopened.hidden = !isReopened(job);
  reopened.title = isReopened(job) ? reopenedText(job) : "";
  const open = job.status === "open";
  $("#final-open").hidden = !open;
  const done = clear($("#final-done"));
  done.hidden = open;
  if (!open) done.append("Final invoice ", invoiceLink(job.final_invoice_id));
  document.title = `${job.id} · Progress Billing`;
}

function reopenedText(job) {
  const times = job.reopen_count === 1 ? "" : ` (${job.reopen_count} times)`;
  return `Reopened ${String(job.reopened_at || "").slice(0, 10)}${times}: its final invoice was voided by a credit note`;
}

export function renderSummary() {
  const job = state.job;
  const b = job.billing;
  const c = job.currency;
  $("#progress-percent").textContent = `${b.percent_billed}%`;
  $("#progress-of").textContent = `billed · ${amount(b.billed_to_date, c)} of ${amountText(job.total, c)}`;
  $("#summary-caption").textContent = job.status === "finalized"
    ? `Finalized ${String(job.finalized_at || "").slice(0, 10)}`
    : isReopened(job) ? `Open for billing · ${reopenedText(job)}` : "Open for billing";
  const bar = $("#progress");
  bar.setAttribute("aria-valuenow", b.percent_billed);
  bar.setAttribute("aria-valuetext", `${b.percent_billed}% billed: ${amount(b.billed_to_date, c)} of ${amountText(job.total, c)}`);
  for (const seg of bar.querySelectorAll(".seg")) {
    seg.style.width = `${share(b[seg.dataset.seg], job.total)}%`;
  }
  renderLegend(b, c);
  renderStats(job);
}

function renderLegend(b, c) {
  const items = [
    ["seg-deposit", "Deposits", b.deposits_billed],
    ["seg-shipment", "Shipments", b.shipments_billed],
    ["seg-final", "Final invoice", b.final_billed],
    ["seg-pending", "Scheduled", b.pending_scheduled],
  ];
  const legend = clear($(".legend"));
  for (const [cls, label, value] of items) {
    legend.append(h("li", {}, h("span", { class: `swatch ${cls}` }), `${label} ${amountText(value, c)}`));
  }
}

function renderStats(job) {
  const b = job.billing;
  const c = job.currency;
  const stats = [
    ["Job total", money(job.total, c), `${job.lines.length} line${job.lines.length === 1 ? "" : "s"}` +
      (job.change_order_count ? ` · ${job.change_order_count} change order${job.change_order_count === 1 ? "" : "s"}` : "")],
    ["Billed to date", money(b.billed_to_date, c), `${b.percent_billed}% of total`],
    ["Deposit balance", money(b.deposit_balance, c),
      `${b.deposit_invoice_count ?? 0} deposit invoice${b.deposit_invoice_count === 1 ? "" : "s"}`],
    ["Pending scheduled", money(b.pending_scheduled, c), `${countRecords("pending")} pending`],
    ["Remaining", money(b.remaining, c), "not yet billed"],
  ];
  const dl = clear($("#stats"));
  for (const [label, value, sub] of stats) {
    dl.append(h("div", { class: "stat", "data-stat": label }, h("dt", {}, label),
      h("dd", {}, value, h("span", { class: "sub" }, sub))));
  }
}

export function renderLines() {
  const job = state.job;
  const body = clear($("#lines-table tbody"));
  for (const line of job.lines) {
    body.append(h("tr", { "data-line": line.line_id },
      h("td", {}, line.line_id),
      h("td", { class: "mono" }, line.item_code),
      h("td", {}, line.description),
      h("td", { class: "num" }, quantity(line.quantity)),
      h("td", { class: "num" }, price(line.unit_price, job.currency)),
      h("td", { class: "num" }, money(line.amount, job.currency)),
      h("td", { "data-tax": line.tax_code || "" }, lineTax(line)),
      h("td", { class: "num" }, quantity(line.shipped_quantity)),
      h("td", { class: "num" }, money(line.billed_amount, job.currency))));
  }
}
