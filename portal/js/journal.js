/* The Ledger page (R18, #/ledger): the journal of every job by entry date, a page at a time, its CSV
 * export (every page of the range fetched and saved as one file), and the trial balance. */

import { api, fetchRaw, pager, queryString, saveBlob } from "./api.js";
import { $, clear, h, toast, withLoading } from "./dom.js";
import { badge, isZero, money } from "./format.js";
import { busyButton, clearFormError, localError, showFormError } from "./forms.js";
import { invoiceLink, setInvoiceOpener } from "./invoices.js";
import { KIND_PATH } from "./state.js";

const CSV_PAGE = 1000;        // the largest page the API serves
const CSV_MAX_PAGES = 1000;   // a bound on one download (a million entries)

const page = Object.assign(pager(
  (token) => withLoading(api("GET", `/ledger/entries${queryString({ ...range(), next_token: token })}`),
    "Loading the journal…"),
  () => { clearFormError($("#journal-error"), $("#journal-filters")); renderJournal(); },
  (err) => showFormError($("#journal-error"), $("#journal-filters"), err, "ledger", "", "read"),
  () => checkRange(),
), { started: false });

/** The first and last day of the current month (the browser's date): the range the page opens with. */
function thisMonth() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  const y = now.getFullYear();
  const m = now.getMonth() + 1;
  const last = new Date(y, m, 0).getDate();
  return { from: `${y}-${pad(m)}-01`, to: `${y}-${pad(m)}-${pad(last)}` };
}

function range() {
  const form = $("#journal-filters");
  return { from: form.elements.from.value, to: form.elements.to.value, limit: form.elements.limit.value };
}

export async function openLedgerPage() {
  setInvoiceOpener((id) => { location.hash = `#/invoices/${encodeURIComponent(id)}`; });
  if (!page.started) {
    const form = $("#journal-filters");
    const month = thisMonth();
    form.elements.from.value = month.from;
    form.elements.to.value = month.to;
    page.started = true;
  }
  await Promise.all([page.load(page.index), loadTrialBalance()]);
}

function checkRange() {
  const r = range();
  if (r.from && r.to && r.from > r.to) {
    localError($("#journal-error"), $("#journal-filters"), "From must be on or before To.", "to");
    return false;
  }
  return true;
}

function renderJournal() {
  const table = $("#journal-table");
  table.querySelectorAll("tbody").forEach((tb) => tb.remove());
  $("#journal-empty").hidden = page.items.length > 0;
  for (const entry of page.items) table.append(entryBody(entry));
  $("#journal-page").textContent = `Page ${page.index + 1}${page.items.length ? ` · ${page.items.length} entries` : ""}` +
    (page.next || !page.items.length ? "" : " (the last)");
  $("#journal-prev").disabled = page.index === 0;
  $("#journal-next").disabled = !page.next;
  const r = range();
  $("#journal-caption").textContent = `Entries dated ${r.from || "…"} to ${r.to || "…"}, by date.`;
}

function entryBody(entry) {
  const span = String(entry.lines.length);
  // kind: the job's (order, project), as next to job_id in the CSV; an invoice type would show as well
  const kind = KIND_PATH[entry.kind] || KIND_PATH[entry.job_kind] || "orders";
  const rows = entry.lines.map((line, i) => h("tr", {},
    i === 0 ? h("td", { rowspan: span, class: "mono" }, entry.entry_id) : null,
    i === 0 ? h("td", { rowspan: span, class: "nowrap" }, entry.date) : null,
    i === 0 ? h("td", { rowspan: span }, invoiceLink(entry.invoice_id)) : null,
    i === 0 ? h("td", { rowspan: span }, entry.kind ? badge(entry.kind) : "—") : null,
    i === 0 ? h("td", { rowspan: span }, entry.job_id
      ? h("a", { href: `#/${kind}/${encodeURIComponent(entry.job_id)}`, class: "mono" }, entry.job_id) : "—") : null,
    h("td", { class: "mono" }, line.account),
    h("td", {}, line.account_name),
    h("td", { class: "num" }, isZero(line.debit) ? "" : money(line.debit, entry.currency)),
    h("td", { class: "num" }, isZero(line.credit) ? "" : money(line.credit, entry.currency))));
  return h("tbody", { "data-entry": entry.entry_id }, rows);
}

/** Every page of the range as CSV (the token of the next page is the Next-Token header), saved as one file. */
async function downloadCsv(event) {
  if (!checkRange()) return;
  const button = event.currentTarget;
  if (button.dataset.busy === "true") return;
  const restore = busyButton(button, "Downloading…");
  const r = range();
  try {
    let header = null;
    const chunks = [];
    let token = null;
    let rows = 0;
    for (let n = 0; n < CSV_MAX_PAGES; n++) {
      const query = queryString({ from: r.from, to: r.to, format: "csv", limit: CSV_PAGE, next_token: token });
      const response = await fetchRaw(`/ledger/entries${query}`, "text/csv");
      let text = await response.text();
      const firstBreak = text.search(/\r?\n/);
      const head = firstBreak < 0 ? text : text.slice(0, firstBreak);
      if (header === null) header = head;
      else if (head === header) text = text.slice(firstBreak < 0 ? text.length : firstBreak).replace(/^\r?\n/, "");
      if (text && !/\n$/.test(text)) text += "\r\n";
      chunks.push(text);
      rows += (text.match(/\n/g) || []).length;
      token = response.headers.get("Next-Token");
      if (!token) break;
    }
    const lines = rows - 1;   // the header
    saveBlob(new Blob(chunks, { type: "text/csv" }), `journal_${r.from || "start"}_${r.to || "end"}.csv`);
    toast(`Journal saved as CSV: ${lines} line${lines === 1 ? "" : "s"} of entries dated ${r.from || "…"} to ${r.to || "…"}.`);
  } catch (err) {
    showFormError($("#journal-error"), $("#journal-filters"), err, "ledger", "", "read");
  } finally {
    restore();
  }
}

async function loadTrialBalance() {
  const box = $("#tb-error");
  try {
    const tb = await withLoading(api("GET", "/ledger/trial-balance"), "Loading the trial balance…");
    box.hidden = true;
    renderTrialBalance(tb);
  } catch (err) {
    showFormError(box, $("#tb-table"), err, "ledger", "", "read");
  }
}

function renderTrialBalance(tb) {
  const accounts = tb.accounts || [];
  const body = clear($("#tb-table tbody"));
  $("#tb-empty").hidden = accounts.length > 0;
  for (const a of accounts) {
    body.append(h("tr", { "data-account": `${a.account}/${a.currency}` },
      h("td", { class: "mono" }, a.account), h("td", {}, a.account_name), h("td", {}, a.currency),
      h("td", { class: "num" }, money(a.debit, a.currency)), h("td", { class: "num" }, money(a.credit, a.currency)),
      h("td", { class: "num" }, money(a.balance, a.currency))));
  }
  const foot = clear($("#tb-table tfoot"));
  for (const t of tb.totals || []) {
    foot.append(h("tr", { "data-total": t.currency },
      h("td", { colspan: "3" }, `Total ${t.currency}`),
      h("td", { class: "num" }, money(t.debit, t.currency)), h("td", { class: "num" }, money(t.credit, t.currency)),
      h("td", {})));
  }
}

export function bindLedgerPage() {
  $("#journal-filters").addEventListener("submit", (event) => { event.preventDefault(); page.restart(); });
  $("#journal-prev").addEventListener("click", () => page.load(Math.max(0, page.index - 1)));
  $("#journal-next").addEventListener("click", () => { if (page.next) page.load(page.index + 1); });
  $("#journal-csv").addEventListener("click", downloadCsv);
  $("#tb-refresh").addEventListener("click", loadTrialBalance);
}
