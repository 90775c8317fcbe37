/* Shipments (orders only): each shipment with its status, reason and invoice (and the credit note
 * that voided it: status invoice_voided, R14). */

import { $, clear, h } from "./dom.js";
import { badge, quantity } from "./format.js";
import { invoiceLink } from "./invoices.js";
import { state } from "./state.js";

export function renderShipments() {
  const isOrder = state.current.kind === "orders";
  $("#shipments-section").hidden = !isOrder;
  if (!isOrder) return;
  const body = clear($("#shipments-table tbody"));
  $("#shipments-empty").hidden = state.shipments.length > 0;
  for (const s of state.shipments) {
    const lines = (s.lines || []).map((l) => `line ${l && l.line_id} × ${l && quantity(l.quantity)}`).join(", ");
    body.append(h("tr", {},
      h("td", { class: "mono" }, s.shipment_id),
      h("td", { class: "nowrap" }, s.ship_date || "—"),
      h("td", {}, lines || "—"),
      h("td", {}, badge(s.status)),
      h("td", {}, s.reason ? s.reason.replace(/_/g, " ") : "—", s.detail ? h("span", { class: "sub" }, s.detail) : null),
      h("td", {}, invoiceLink(s.invoice_id),
        s.credit_note_id ? h("span", { class: "sub" }, "voided by ", invoiceLink(s.credit_note_id)) : null)));
  }
}
