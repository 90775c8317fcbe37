/* Invoices: the job's invoice list, and the selected invoice shown as a document (its subtotal, one tax
 * row per code and its total, R16), with Void on an issued invoice (admins, R14) and the links between
 * a voided invoice and its credit note. */

import { api, fetchRaw, saveBlob } from "./api.js";
import { $, clear, h, toast } from "./dom.js";
import { plainError } from "./errors.js";
import { busyButton } from "./forms.js";
import { badge, money, price, quantity } from "./format.js";
import { state } from "./state.js";
import { canVoid, openVoidDialog } from "./voids.js";

const INVOICE_TYPES = {
  deposit: "Deposit invoice", shipment: "Shipment invoice", final: "Final invoice", credit_note: "Credit note",
};

// What an invoice link opens: the job's invoice view, or (on the register page) the register's viewer.
let opener = (invoiceId) => openInvoice(invoiceId, true);

export function setInvoiceOpener(fn) {
  opener = fn || ((invoiceId) => openInvoice(invoiceId, true));
}

/** A button that opens an invoice (and scrolls to it), or "—" without one. */
export function invoiceLink(invoiceId) {
  if (!invoiceId) return "—";
  return h("button", {
    type: "button", class: "link-button mono", "data-invoice": invoiceId,
    "aria-label": `Open invoice ${invoiceId}`,
    onclick: (event) => { event.stopPropagation(); opener(invoiceId); },
  }, invoiceId);
}

export function renderInvoices() {
  const body = clear($("#invoices-table tbody"));
  $("#invoices-empty").hidden = state.invoices.length > 0;
  for (const inv of state.invoices) {
    body.append(h("tr", {
      "data-invoice-row": inv.invoice_id, "aria-selected": inv.invoice_id === state.invoiceId ? "true" : "false",
      class: inv.status === "voided" ? "row-voided" : null,
      onclick: () => openInvoice(inv.invoice_id, false),
    },
    h("td", {}, invoiceLink(inv.invoice_id)),
    h("td", {}, badge(inv.type)),
    h("td", { class: "nowrap" }, inv.invoice_date),
    h("td", {}, inv.title || "—"),
    h("td", {}, badge(inv.status || "issued"), voidedNote(inv)),
    h("td", { class: "num" }, money(inv.total, inv.currency))));
  }
}

/** Open the invoice chosen before the reload, else the latest one, else the placeholder. */
export function renderOpenInvoice() {
  const last = state.invoices[state.invoices.length - 1];
  const open = state.invoiceId || (last ? last.invoice_id : null);
  if (open) openInvoice(open, false);
  else renderInvoicePlaceholder();
}

/** Under a voided invoice's status: its credit note; under a credit note's: what it voids. */
function voidedNote(inv) {
  if (inv.voided_by_invoice_id) return h("span", { class: "sub" }, "by ", invoiceLink(inv.voided_by_invoice_id));
  if (inv.voids_invoice_id) return h("span", { class: "sub" }, "voids ", invoiceLink(inv.voids_invoice_id));
  return null;
}

function markSelectedInvoice() {
  for (const row of document.querySelectorAll("#invoices-table tbody tr")) {
    row.setAttribute("aria-selected", row.dataset.invoiceRow === state.invoiceId ? "true" : "false");
  }
}

/** The viewer's placeholder (no invoice: nothing to print). */
export function renderInvoicePlaceholder(view = $("#invoice-view"), text = "Select an invoice to read it.") {
  clear(view).append(h("p", { class: "muted invoice-placeholder" }, text));
  delete view.dataset.doc;
  view.classList.remove("is-voided", "is-credit");
}

async function openInvoice(invoiceId, scroll) {
  state.invoiceId = invoiceId;
  const seq = state.loadSeq;   // a later navigation discards this answer
  markSelectedInvoice();
  let invoice = state.invoices.find((inv) => inv.invoice_id === invoiceId);
  try {
    invoice = await api("GET", `/invoices/${encodeURIComponent(invoiceId)}`);
  } catch (err) {
    if (!invoice) {
      if (seq !== state.loadSeq || state.invoiceId !== invoiceId) return;
      renderInvoicePlaceholder();
      $("#invoice-view").replaceChildren(h("p", { class: "form-error" }, plainError(err)));
      return;
    }
  }
  if (state.invoiceId !== invoiceId || seq !== state.loadSeq) return;
  renderInvoice(invoice);
  if (scroll) $("#invoices-section").scrollIntoView({ behavior: "smooth", block: "start" });
}

/** ``inv`` as a document in ``view`` (the job's invoice view by default); ``voidable`` offers Void. */
export function renderInvoice(inv, view = $("#invoice-view"), { voidable = true } = {}) {
  clear(view);
  view.dataset.doc = inv.invoice_id;   // printable (portal.css @media print)
  view.setAttribute("aria-label", `Invoice ${inv.number}`);
  view.classList.toggle("is-voided", inv.status === "voided");
  view.classList.toggle("is-credit", inv.type === "credit_note");
  // A credit note's description is its reason, which its stamp shows already.
  const description = inv.type === "credit_note" && inv.description === inv.reason ? "" : inv.description;
  const parts = [
    invoiceStamp(inv),
    invoiceHead(inv, voidable),
    inv.title ? h("p", { class: "invoice-title" }, inv.title) : null,
    description ? h("p", { class: "invoice-desc" }, description) : null,
    invoiceLines(inv),
    h("div", { class: "invoice-bottom" }, invoiceRefs(inv), billingBlock(inv)),
  ];
  view.append(...parts.filter(Boolean));
}

/** The band above a voided invoice (its credit note, when, who, why) or a credit note (what it voids, why). */
function invoiceStamp(inv) {
  if (inv.status === "voided") {
    const by = inv.voided_by && inv.voided_by.username;
    return h("p", { class: "invoice-stamp", "data-stamp": "voided" },
      h("strong", {}, "Voided"),
      " by credit note ", invoiceLink(inv.voided_by_invoice_id),
      inv.voided_at ? ` on ${inv.voided_at.slice(0, 10)}` : "", by ? ` by ${by}` : "",
      inv.void_reason ? h("span", { class: "stamp-reason" }, `Reason: ${inv.void_reason}`) : null);
  }
  if (inv.type === "credit_note") {
    const voided = INVOICE_TYPES[inv.voids_invoice_type] || "Invoice";
    return h("p", { class: "invoice-stamp credit", "data-stamp": "credit_note" },
      h("strong", {}, "Credit note"),
      ` Voids ${voided.toLowerCase()} `, invoiceLink(inv.voids_invoice_id),
      inv.reason ? h("span", { class: "stamp-reason" }, `Reason: ${inv.reason}`) : null);
  }
  return null;
}

function invoiceHead(inv, voidable) {
  const kindNoun = inv.kind === "order" ? "Order" : "Project";
  return h("header", { class: "invoice-head" },
    h("div", {},
      h("p", { class: "doc-type" }, INVOICE_TYPES[inv.type] || inv.type),
      h("p", { class: "invoice-number" }, inv.number),
      h("p", {}, h("span", { class: "muted" }, "Bill to "), inv.customer_name || "",
        inv.customer_id ? h("span", { class: "muted" }, ` (${inv.customer_id})`) : null)),
    h("div", { class: "invoice-side" },
      h("dl", { class: "invoice-meta" },
        h("dt", {}, "Invoice date"), h("dd", {}, inv.invoice_date),
        h("dt", {}, kindNoun), h("dd", {}, inv.job_id),
        h("dt", {}, "Type"), h("dd", {}, badge(inv.type)),
        h("dt", {}, "Status"), h("dd", {}, badge(inv.status || "issued")),
        h("dt", {}, "Currency"), h("dd", {}, inv.currency)),
      h("div", { class: "invoice-actions" },
        h("button", {
          type: "button", class: "btn btn-secondary btn-sm", "data-action": "pdf",
          "aria-label": `Download PDF of invoice ${inv.number}`, onclick: (event) => downloadPdf(inv, event.currentTarget),
        }, "Download PDF"),
        h("button", {
          type: "button", class: "btn btn-ghost btn-sm", "data-action": "print",
          "aria-label": `Print invoice ${inv.number}`, onclick: () => window.print(),
        }, "Print"),
        voidable && canVoid(inv) ? h("button", {
          type: "button", class: "btn btn-danger-outline btn-sm", "data-action": "void",
          "aria-label": `Void invoice ${inv.number}`, onclick: () => openVoidDialog(inv),
        }, "Void") : null)));
}

/** R18: GET /invoices/{id}/pdf with the bearer token, saved as INV-000123.pdf. */
export async function downloadPdf(inv, button) {
  const restore = busyButton(button, "Preparing…");
  try {
    const response = await fetchRaw(`/invoices/${encodeURIComponent(inv.invoice_id)}/pdf`, "application/pdf");
    saveBlob(await response.blob(), `${inv.number || inv.invoice_id}.pdf`);
  } catch (err) {
    toast(`The PDF of ${inv.number} could not be downloaded: ${plainError(err)}`);
  } finally {
    restore();
  }
}

function invoiceLines(inv) {
  const rows = inv.lines.map((line) => invoiceLine(line, inv));
  return h("div", { class: "table-wrap" }, h("table", { class: "table invoice-lines" },
    h("caption", { class: "visually-hidden" }, `Lines of invoice ${inv.number}`),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Description"),
      h("th", { scope: "col", class: "num" }, "Qty"), h("th", { scope: "col", class: "num" }, "Unit price"),
      h("th", { scope: "col", class: "num" }, "Amount"))),
    h("tbody", {}, rows),
    h("tfoot", {}, taxRows(inv), h("tr", { class: "total-row" },
      h("td", { colspan: "4" }, { final: "Balance due", credit_note: "Total credited" }[inv.type] || "Total"),
      h("td", { class: "num", "data-total": "" }, money(inv.total, inv.currency))))));
}

/** R16: the subtotal (net) and one row per tax code, "VAT 20% (20%) on 2500.00 USD"; none without tax. */
function taxRows(inv) {
  const tax = inv.tax || [];
  if (!tax.length) return [];
  const c = inv.currency;
  return [
    h("tr", { class: "subtotal-row" },
      h("td", { colspan: "4" }, "Subtotal", h("span", { class: "muted" }, " (net of tax)")),
      h("td", { class: "num", "data-subtotal": "" }, money(inv.subtotal, c))),
    ...tax.map((t) => h("tr", { class: "tax-row", "data-tax": t.code },
      h("td", { class: "code" }, t.code),
      h("td", { colspan: "3" }, `${t.name} (${t.rate}%) on `, money(t.base, c)),
      h("td", { class: "num", "data-tax-amount": "" }, money(t.amount, c)))),
  ];
}

function invoiceLine(line, inv) {
  const currency = inv.currency;
  const notes = [];
  if (line.reverses_line !== undefined) {
    // a credit note's line: the original line it negates (of a final invoice: maybe a deposit reversal)
    notes.push(h("span", { class: "sub reverses" }, `Reverses line ${line.reverses_line} of `,
      invoiceLink(inv.voids_invoice_id),
      line.reverses_invoice_id ? [" (the reversal of ", invoiceLink(line.reverses_invoice_id), ")"] : null));
  } else {
    if (line.percent !== null && line.percent !== undefined) {
      notes.push(h("span", { class: "sub" }, `${line.percent}% of the job total`));
    }
    if (line.reverses_invoice_id) {
      notes.push(h("span", { class: "sub reverses" }, "Reverses ", invoiceLink(line.reverses_invoice_id)));
    }
  }
  return h("tr", { class: line.reverses_invoice_id ? "reversal" : null },
    h("td", { class: "code" }, line.code),
    h("td", {}, line.description, notes),
    h("td", { class: "num" }, quantity(line.quantity)),
    h("td", { class: "num" }, price(line.unit_price, currency)),
    h("td", { class: "num" }, money(line.amount, currency)));
}

function billingBlock(inv) {
  const b = inv.billing || {};
  const c = inv.currency;
  const rows = [
    ["Job total", b.job_total],
    ["Revenue recognized", b.revenue_recognized],
    ["Deposits reversed", b.deposits_reversed],
    ["Billed before", b.billed_before],
    ["This invoice", b.this_invoice, "strong"],
    ["Billed to date", b.billed_to_date],
    ["Remaining", b.remaining],
  ].filter(([, value]) => value !== undefined);
  return h("dl", { class: "billing-block", "aria-label": "Billing" },
    rows.map(([label, value, cls]) => h("div", { class: cls || null },
      h("dt", {}, label), h("dd", {}, money(value, c)))));
}

function invoiceRefs(inv) {
  const refs = [h("span", {}, "Journal entry ", h("span", { class: "mono" }, inv.journal_entry_id))];
  if (inv.record_id) refs.push(h("span", {}, "Progress billing record ", h("span", { class: "mono" }, inv.record_id)));
  if (inv.shipment_id) refs.push(h("span", {}, "Shipment ", h("span", { class: "mono" }, inv.shipment_id)));
  if (inv.cancelled_record_ids && inv.cancelled_record_ids.length) {
    refs.push(h("span", {}, `Cancelled ${inv.cancelled_record_ids.length} scheduled record(s)`));
  }
  if (inv.issued_at) {
    const by = inv.created_by && inv.created_by.username;
    refs.push(h("span", {}, `Issued ${inv.issued_at.replace("T", " ").slice(0, 19)} UTC${by ? ` by ${by}` : ""}`));
  }
  return h("div", { class: "invoice-refs" }, refs);
}
