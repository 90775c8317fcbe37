/* The invoice register (R18, #/invoices): the invoices of every job, filtered by invoice date, type,
 * status and customer, a page at a time (next_token), and search by number (invoice numbers are their
 * ids: GET /invoices/INV-000123 opens one directly) or by customer. The invoice opened is in the
 * address (#/invoices/INV-000123) and shown as a document (Download PDF, Print; Void is on the job's
 * Billing tab, where its effects show). */

import { api, pager, queryString } from "./api.js";
import { $, clear, h, withLoading } from "./dom.js";
import { plainError } from "./errors.js";
import { badge, money } from "./format.js";
import { clearFormError, localError, showFormError } from "./forms.js";
import { invoiceLink, renderInvoice, renderInvoicePlaceholder, setInvoiceOpener } from "./invoices.js";
import { KIND_PATH, state } from "./state.js";

const NUMBER = /^INV-\d{1,20}$/i;

const page = Object.assign(pager(
  (token) => withLoading(api("GET", `/invoices${queryString({ ...filters(), next_token: token })}`),
    "Loading invoices…"),
  () => { clearFormError($("#reg-error"), $("#reg-filters")); renderList(); },
  (err) => showFormError($("#reg-error"), $("#reg-filters"), err, "invoice register", "", "read"),
  checkFilters,
), {
  openId: null,     // the invoice in the viewer
  docSeq: 0,        // a later invoice opened wins
});

function filters() {
  const form = $("#reg-filters");
  const value = (name) => form.elements[name].value.trim();
  return {
    from: value("from"), to: value("to"), type: value("type"), status: value("status"),
    customer_id: value("customer_id"), limit: value("limit"),
  };
}

/** Open the page: the list with the filters on screen (read again), and ``invoiceId`` from the address. */
export async function openInvoicesPage(invoiceId) {
  setInvoiceOpener((id) => showInvoice(id, true));
  fillCustomers();
  const list = page.load(page.index);
  if (invoiceId) await Promise.all([list, showInvoice(invoiceId, false)]);
  else {
    page.openId = null;
    renderInvoicePlaceholder($("#reg-invoice"));
    $("#reg-invoice-job").replaceChildren();
    await list;
  }
}

/** The customers of the listed jobs, offered in the Customer ID field. */
function fillCustomers() {
  const seen = new Map();
  for (const job of state.jobs) if (!seen.has(job.customer_id)) seen.set(job.customer_id, job.customer_name);
  clear($("#reg-customers")).append(...Array.from(seen, ([id, name]) => h("option", { value: id }, name)));
}

/** From after To is refused before any request. */
function checkFilters() {
  const f = filters();
  if (f.from && f.to && f.from > f.to) {
    localError($("#reg-error"), $("#reg-filters"), "From must be on or before To.", "to");
    return false;
  }
  return true;
}

function renderList() {
  const body = clear($("#reg-table tbody"));
  $("#reg-empty").hidden = page.items.length > 0;
  for (const inv of page.items) body.append(row(inv));
  const limit = Number(filters().limit) || 50;
  const first = page.index * limit + 1;
  $("#reg-page").textContent = page.items.length
    ? `Page ${page.index + 1} · invoices ${first}–${first + page.items.length - 1}${page.next ? "" : " (the last)"}`
    : `Page ${page.index + 1}`;
  $("#reg-prev").disabled = page.index === 0;
  $("#reg-next").disabled = !page.next;
  const f = filters();
  const parts = [
    f.from || f.to ? `dated ${f.from || "…"} to ${f.to || "…"}` : "all dates",
    f.type ? f.type.replace("_", " ") : null, f.status || null, f.customer_id ? `customer ${f.customer_id}` : null,
  ].filter(Boolean);
  $("#reg-caption").textContent = `Invoices by date, then number: ${parts.join(" · ")}.`;
  markSelected();
}

function jobLink(inv) {
  const kind = KIND_PATH[inv.kind] || "orders";
  return h("a", { href: `#/${kind}/${encodeURIComponent(inv.job_id)}`, class: "mono", onclick: (e) => e.stopPropagation() },
    inv.job_id);
}

function row(inv) {
  return h("tr", {
    "data-invoice-row": inv.invoice_id, class: inv.status === "voided" ? "row-voided" : null,
    onclick: () => showInvoice(inv.invoice_id, true),
  },
  h("td", {}, invoiceLink(inv.invoice_id)),
  h("td", { class: "nowrap" }, inv.invoice_date),
  h("td", {}, badge(inv.type)),
  h("td", {}, badge(inv.status || "issued"),
    inv.voided_by_invoice_id ? h("span", { class: "sub" }, "by ", invoiceLink(inv.voided_by_invoice_id)) : null,
    inv.voids_invoice_id ? h("span", { class: "sub" }, "voids ", invoiceLink(inv.voids_invoice_id)) : null),
  h("td", {}, inv.customer_name || "", inv.customer_id ? h("span", { class: "sub mono" }, inv.customer_id) : null),
  h("td", {}, jobLink(inv)),
  h("td", {}, inv.title || "—"),
  h("td", { class: "num" }, money(inv.total, inv.currency)));
}

function markSelected() {
  for (const tr of document.querySelectorAll("#reg-table tbody tr")) {
    tr.setAttribute("aria-selected", tr.dataset.invoiceRow === page.openId ? "true" : "false");
  }
}

/** GET /invoices/{id} into the viewer; the address names it, so a reload or a link opens it again. */
async function showInvoice(invoiceId, scroll) {
  const seq = ++page.docSeq;
  page.openId = invoiceId;
  markSelected();
  if (location.hash !== `#/invoices/${encodeURIComponent(invoiceId)}`) {
    history.replaceState(null, "", `#/invoices/${encodeURIComponent(invoiceId)}`);
  }
  const view = $("#reg-invoice");
  try {
    const inv = await withLoading(api("GET", `/invoices/${encodeURIComponent(invoiceId)}`), `Loading ${invoiceId}…`);
    if (seq !== page.docSeq) return;
    renderInvoice(inv, view, { voidable: false });
    const kind = KIND_PATH[inv.kind] || "orders";
    $("#reg-invoice-job").replaceChildren(`${inv.kind === "project" ? "Project" : "Order"} `, jobLink(inv),
      ` · ${inv.customer_name || inv.customer_id || ""} · `,
      h("a", { href: `#/${kind}/${encodeURIComponent(inv.job_id)}` }, "open its Billing tab"),
      " to void it or see its records.");
    if (scroll) view.scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (err) {
    if (seq !== page.docSeq) return;
    page.openId = null;
    markSelected();
    $("#reg-invoice-job").replaceChildren();
    renderInvoicePlaceholder(view, err.code === "NOT_FOUND" ? `There is no invoice ${invoiceId}.` : plainError(err));
    view.querySelector("p").classList.add("form-error");
  }
}

/** Search: an invoice number opens it; anything else is a customer (ID or name) of the listed jobs. */
async function search(event) {
  event.preventDefault();
  const form = $("#reg-search");
  const box = $("#reg-error");
  const q = form.elements.q.value.trim();
  clearFormError(box, form);
  if (!q) {
    localError(box, form, "Type an invoice number (INV-000123) or a customer's ID or name.", "q");
    return;
  }
  if (NUMBER.test(q)) {
    await showInvoice(q.toUpperCase(), true);
    if (!page.openId) localError(box, form, `There is no invoice ${q.toUpperCase()}.`, "q");
    return;
  }
  const needle = q.toLowerCase();
  const customers = new Map();
  for (const job of state.jobs) {
    const exact = job.customer_id.toLowerCase() === needle;
    if (exact || job.customer_id.toLowerCase().includes(needle) || String(job.customer_name).toLowerCase().includes(needle)) {
      customers.set(job.customer_id, { name: job.customer_name, exact });
    }
  }
  const exact = Array.from(customers).find(([, c]) => c.exact);
  if (customers.size > 1 && !exact) {
    box.replaceChildren(h("strong", {}, `${customers.size} customers match “${q}”: pick one.`),
      h("p", { class: "error-actions choice-list" }, Array.from(customers, ([id, c]) => h("button", {
        type: "button", class: "btn btn-ghost btn-sm", onclick: () => filterCustomer(id),
      }, `${c.name} (${id})`))));
    box.hidden = false;
    return;
  }
  await filterCustomer(exact ? exact[0] : customers.size === 1 ? customers.keys().next().value : q);
}

function filterCustomer(customerId) {
  $("#reg-filters").elements.customer_id.value = customerId;
  clearFormError($("#reg-error"), $("#reg-search"));
  return page.restart();
}

export function bindInvoicesPage() {
  $("#reg-search").addEventListener("submit", search);
  $("#reg-filters").addEventListener("submit", (event) => { event.preventDefault(); page.restart(); });
  $("#reg-clear").addEventListener("click", () => {
    $("#reg-filters").reset();
    $("#reg-search").reset();
    page.restart();
  });
  $("#reg-prev").addEventListener("click", () => page.load(Math.max(0, page.index - 1)));
  $("#reg-next").addEventListener("click", () => { if (page.next) page.load(page.index + 1); });
}
