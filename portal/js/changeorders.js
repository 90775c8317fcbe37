/* Change orders (R15): the job's change-order history, and the dialog that changes a line's quantity,
 * unit price or description, or adds a line (with a tax code of the settings, or none: R16; an existing
 * line's tax code cannot change), and POSTs only the lines that change. */

import { jobPath } from "./api.js";
import { $, clear, h, toast } from "./dom.js";
import { amount, amountText, isZero, lineTax, money, price, quantity } from "./format.js";
import { clearFormError, clearInvalidOnInput, isBusy, localError, postForm } from "./forms.js";
import { isClerk } from "./identity.js";
import { refreshTaxSelects, taxSelect } from "./settings.js";
import { reload, state } from "./state.js";

const EDITABLE = ["description", "quantity", "unit_price"];   // what a change order may set on a line
const NEW_FIELDS = ["item_code", "description", "quantity", "unit_price", "tax_code"];

// ---- the history ---------------------------------------------------------------------------------

export function renderChangeOrders() {
  const job = state.job;
  const open = job.status === "open";
  const allowed = isClerk();
  $("#change-open").hidden = !(open && allowed);
  $("#changes-caption").textContent = !open
    ? `Finalized: void the final invoice ${job.final_invoice_id || ""} to reopen the ${job.kind} before changing its lines.`
    : allowed ? "Change a line's quantity, price or description, or add a line. No invoice is issued."
      : "Read only: change orders need the group billing-clerks or billing-admins.";
  const body = clear($("#changes-table tbody"));
  $("#changes-empty").hidden = state.changeOrders.length > 0;
  for (const co of state.changeOrders) body.append(changeOrderRow(co, job.currency));
}

function changeOrderRow(co, currency) {
  const by = co.created_by && co.created_by.username;
  return h("tr", { "data-change-order": co.change_order_id },
    h("td", { class: "mono nowrap" }, co.change_order_id),
    h("td", { class: "nowrap" }, co.date,
      co.created_at ? h("span", { class: "sub" }, `${co.created_at.replace("T", " ").slice(0, 16)} UTC`) : null),
    h("td", {}, h("span", { class: "cell-title" }, co.reason)),
    h("td", {}, by || "—"),
    h("td", { class: "num", "data-totals": "" }, `${amount(co.total_before, currency)} → `, money(co.total_after, currency)),
    h("td", {}, h("ul", { class: "change-list" }, lineChanges(co, currency))));
}

/** What the change order did to each line it names, in words. */
function lineChanges(co, currency) {
  const before = new Map((co.lines_before || []).map((line) => [line.line_id, line]));
  return (co.lines_after || []).map((after) => {
    const was = before.get(after.line_id);
    const name = h("strong", {}, `Line ${after.line_id} ${after.item_code}`);
    if (!was) {
      return h("li", { "data-line": after.line_id }, name,
        ` added${after.description ? ` (${after.description})` : ""}: ${quantity(after.quantity)} × ` +
        `${price(after.unit_price, currency)} = ${amountText(after.amount, currency)}` + (after.tax_code ? `, tax ${after.tax_code} ${after.tax_rate}%` : ""));
    }
    const parts = [];
    if (was.quantity !== after.quantity) {
      parts.push(isZero(after.quantity) ? `scope removed (quantity ${quantity(was.quantity)} → 0)`
        : `quantity ${quantity(was.quantity)} → ${quantity(after.quantity)}`);
    }
    if (was.unit_price !== after.unit_price) parts.push(`unit price ${price(was.unit_price, currency)} → ${price(after.unit_price, currency)}`);
    if (was.description !== after.description) {
      parts.push(`description “${was.description}” → “${after.description}”`);
    }
    if (was.amount !== after.amount) parts.push(`amount ${amount(was.amount, currency)} → ${amountText(after.amount, currency)}`);
    return h("li", { "data-line": after.line_id }, name, `: ${parts.join(", ")}`);
  });
}

// ---- the dialog ----------------------------------------------------------------------------------

function cellInput(name, label, attrs = {}) {
  return h("input", {
    type: "text", name, "aria-label": label, autocomplete: "off", value: attrs.value ?? null,
    placeholder: attrs.placeholder || null, inputmode: attrs.inputmode || null, maxlength: attrs.maxlength || null,
  });
}

/** A row for an existing line, prefilled: its description, quantity and unit price can change. */
function existingRow(line, currency) {
  const n = `Line ${line.line_id}`;
  const shipped = !isZero(line.shipped_quantity);
  const billed = !isZero(line.billed_quantity);
  return h("tr", { "data-line": line.line_id, "data-label": n },
    h("td", { class: "muted cell-text" }, line.line_id),
    h("td", { class: "mono cell-text" }, line.item_code),
    h("td", {}, cellInput("description", `${n} description`, { value: line.description, maxlength: 500 })),
    h("td", { class: "qty" }, cellInput("quantity", `${n} quantity`, { value: line.quantity, inputmode: "decimal" }),
      shipped ? h("span", { class: "sub" }, `shipped ${line.shipped_quantity}`) : null),
    h("td", { class: "price" },
      cellInput("unit_price", `${n} unit price`, { value: line.unit_price, inputmode: "decimal" }),
      billed ? h("span", { class: "sub" }, "billed by shipments") : null),
    h("td", { class: "cell-text", "data-tax": line.tax_code || "" }, lineTax(line)),
    h("td", { class: "num cell-text" }, money(line.amount, currency)),
    h("td", {}));
}

/** A row for a new line: its ID (the next free number, editable), item code, description, quantity, price. */
function newRow(lineId) {
  return h("tr", { "data-new": "true" },
    h("td", { class: "line-id" }, cellInput("line_id", "New line ID", { value: lineId, maxlength: 64 })),
    h("td", {}, cellInput("item_code", "New line item code", { placeholder: "EXTRA", maxlength: 64 })),
    h("td", {}, cellInput("description", "New line description", { placeholder: "Extra work", maxlength: 500 })),
    h("td", { class: "qty" }, cellInput("quantity", "New line quantity", { placeholder: "1", inputmode: "decimal" })),
    h("td", { class: "price" },
      cellInput("unit_price", "New line unit price", { placeholder: "100.00", inputmode: "decimal" })),
    h("td", { class: "tax" }, taxSelect("New line tax code")),
    h("td", { class: "num muted cell-text" }, "new"),
    h("td", { class: "cell-text" }, h("button", {
      type: "button", class: "link-button link-danger", "aria-label": "Remove new line",
      onclick: (event) => { event.currentTarget.closest("tr").remove(); labelNewRows(); },
    }, "Remove")));
}

/** New rows are "New line 1", "New line 2", ... in their labels (the field errors name them so). */
function labelNewRows() {
  document.querySelectorAll('#change-lines tbody tr[data-new="true"]').forEach((row, i) => {
    const n = `New line ${i + 1}`;
    row.dataset.label = n;
    row.querySelectorAll("input, select").forEach((input) => {
      input.setAttribute("aria-label", input.getAttribute("aria-label").replace(/^New line( \d+)?/, n));
    });
    row.querySelector("button").setAttribute("aria-label", `Remove ${n.toLowerCase()}`);
  });
}

function nextLineId() {
  const ids = [
    ...state.job.lines.map((line) => line.line_id),
    ...Array.from(document.querySelectorAll('#change-lines input[name="line_id"]'), (input) => input.value.trim()),
  ];
  const numbers = ids.filter((id) => /^\d+$/.test(id)).map(Number);
  return String((numbers.length ? Math.max(...numbers) : 0) + 1);
}

function addLine() {
  $("#change-lines tbody").append(newRow(nextLineId()));
  labelNewRows();
  const rows = document.querySelectorAll('#change-lines tbody tr[data-new="true"]');
  rows[rows.length - 1].querySelector('input[name="item_code"]').focus();
}

function openChangeDialog() {
  const job = state.job;
  const form = $("#change-form");
  form.reset();
  clearFormError($("#change-error"), form);
  $("#change-heading").textContent = `Change order for ${job.kind} ${job.id}`;
  $("#change-explain").textContent =
    `CO-${(job.change_order_count || 0) + 1}: the ${job.kind} total is now ${amountText(job.total, job.currency)}, ` +
    `of which ${amount(job.billing.billed_to_date, job.currency)} billed and ` +
    `${amount(job.billing.pending_scheduled, job.currency)} scheduled. The new total cannot be ` +
    "below what is billed or scheduled.";
  const body = clear($("#change-lines tbody"));
  for (const line of job.lines) body.append(existingRow(line, job.currency));
  $("#change-dialog").showModal();
  $("#cf-reason").focus();
  refreshTaxSelects($("#change-lines"));  // the codes a new line may pick, as the settings have them now
}

/** Tag a row's inputs with the body entry they became, so that a 422 naming lines[i].x outlines them. */
function tagRow(row, index) {
  row.dataset.field = index === null ? "" : `lines[${index}]`;
  row.querySelectorAll("input, select").forEach((input) => {
    input.dataset.field = index === null ? "" : `lines[${index}].${input.name}`;
  });
}

/** Only the lines that change: an existing line with the fields that differ, a new line with what is typed. */
function changeBody(form) {
  const body = { reason: form.elements.reason.value };
  if (form.elements.date.value) body.date = form.elements.date.value;
  body.lines = [];
  const value = (row, name) => {
    const text = row.querySelector(`[name="${name}"]`).value;
    return name === "description" ? text : text.trim();
  };
  const rows = Array.from(document.querySelectorAll("#change-lines tbody tr"));
  for (const row of rows) {
    tagRow(row, null);
    let entry;
    if (row.dataset.new === "true") {
      entry = { line_id: value(row, "line_id") };
      for (const name of NEW_FIELDS) if (value(row, name) !== "") entry[name] = value(row, name);
      if (Object.keys(entry).length === 1) continue;  // an empty new row: nothing to add
    } else {
      const line = state.job.lines.find((l) => l.line_id === row.dataset.line);
      entry = { line_id: line.line_id };
      for (const name of EDITABLE) if (value(row, name) !== line[name]) entry[name] = value(row, name);
      if (Object.keys(entry).length === 1) continue;  // unchanged
    }
    tagRow(row, body.lines.length);
    body.lines.push(entry);
  }
  return body;
}

async function submitChange(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (isBusy(form)) return;   // still sending the last submit
  const box = $("#change-error");
  if (form.elements.reason.value.trim() === "") {
    localError(box, form, "Enter a reason: the change order keeps it.", "reason");
    form.elements.reason.focus();
    return;
  }
  const body = changeBody(form);
  if (body.lines.length === 0) {
    localError(box, form, "Nothing to save: change a line's quantity, price or description, or add a line.");
    return;
  }
  const job = state.job;
  const { kind, id } = state.current;
  await postForm({
    form, box, name: `change:${kind}/${id}`, path: `${jobPath(kind, id)}/change-orders`,
    body, noun: job.kind, currency: job.currency, action: "change", event,
  }, async (result) => {
    $("#change-dialog").close();
    const co = result.change_order;
    toast(`${co.change_order_id} saved: ${job.kind} total ${amount(co.total_before, job.currency)} → ` +
      `${amountText(co.total_after, job.currency)}.`);
    await reload();
  });
}

export function bindChangeDialog() {
  $("#change-open").addEventListener("click", openChangeDialog);
  const form = $("#change-form");
  form.addEventListener("submit", submitChange);
  clearInvalidOnInput(form);
  $("#change-add-line").addEventListener("click", addLine);
}
