/* Journal entries: the general-ledger postings of the job's invoices, one tbody per entry. */

import { $, h } from "./dom.js";
import { isZero, money } from "./format.js";
import { invoiceLink } from "./invoices.js";
import { state } from "./state.js";

export function renderLedger() {
  const table = $("#ledger-table");
  table.querySelectorAll("tbody").forEach((tb) => tb.remove());
  $("#ledger-empty").hidden = state.entries.length > 0;
  for (const entry of state.entries) table.append(entryBody(entry));
}

function entryBody(entry) {
  const span = String(entry.lines.length);
  const rows = entry.lines.map((line, i) => h("tr", {},
    i === 0 ? h("td", { rowspan: span, class: "mono" }, entry.entry_id) : null,
    i === 0 ? h("td", { rowspan: span, class: "nowrap" }, entry.date) : null,
    i === 0 ? h("td", { rowspan: span }, invoiceLink(entry.invoice_id)) : null,
    h("td", { class: "mono" }, line.account),
    h("td", {}, line.account_name),
    h("td", { class: "num" }, isZero(line.debit) ? "" : money(line.debit, entry.currency)),
    h("td", { class: "num" }, isZero(line.credit) ? "" : money(line.credit, entry.currency))));
  return h("tbody", { "data-entry": entry.entry_id }, rows);
}
