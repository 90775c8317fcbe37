/* Register a job: the dialog with kind, ID, customer, currency and lines (each with a tax code of the
 * settings, or none: R16), and its POST. */

import { $, capitalize, clear, h, toast } from "./dom.js";
import { amountText } from "./format.js";
import { clearFormError, clearInvalidOnInput, isBusy, postForm } from "./forms.js";
import { replaceListedJob, selectJob } from "./jobs.js";
import { refreshTaxSelects, taxSelect } from "./settings.js";
import { KIND_NOUN } from "./state.js";

function lineRow(index) {
  const n = index + 1;
  const cell = (name, attrs) => h("td", { class: attrs.cls || null }, h("input", {
    type: "text", name, "data-field": `lines[${index}].${name}`, "aria-label": `Line ${n} ${attrs.label}`,
    placeholder: attrs.placeholder || null, inputmode: attrs.inputmode || null, autocomplete: "off",
  }));
  return h("tr", {},
    h("td", { class: "muted" }, String(n)),
    cell("item_code", { label: "item code", placeholder: "WIDGET" }),
    cell("description", { label: "description", placeholder: "Widget" }),
    cell("quantity", { label: "quantity", placeholder: "10", inputmode: "decimal", cls: "qty" }),
    cell("unit_price", { label: "unit price", placeholder: "100.00", inputmode: "decimal", cls: "price" }),
    h("td", { class: "tax" }, taxCell(index)),
    h("td", {}, index > 0 ? h("button", {
      type: "button", class: "link-button link-danger", "aria-label": `Remove line ${n}`,
      onclick: (event) => { event.currentTarget.closest("tr").remove(); renumberLines(); },
    }, "Remove") : null));
}

function taxCell(index) {
  const select = taxSelect(`Line ${index + 1} tax code`);
  select.dataset.field = `lines[${index}].tax_code`;
  return select;
}

function renumberLines() {
  const rows = Array.from(document.querySelectorAll("#register-lines tbody tr"));
  rows.forEach((row, i) => {
    row.cells[0].textContent = String(i + 1);
    row.querySelectorAll("input, select").forEach((input) => {
      input.dataset.field = `lines[${i}].${input.name}`;
      input.setAttribute("aria-label", input.getAttribute("aria-label").replace(/^Line \d+/, `Line ${i + 1}`));
    });
  });
}

function addLine() {
  const body = $("#register-lines tbody");
  body.append(lineRow(body.rows.length));
  body.rows[body.rows.length - 1].querySelector("input").focus();
}

function openRegisterDialog() {
  const form = $("#register-form");
  form.reset();
  clearFormError($("#register-error"), form);
  clear($("#register-lines tbody")).append(lineRow(0));
  $("#register-dialog").showModal();
  $("#rg-id").focus();
  refreshTaxSelects($("#register-lines"));  // codes another admin added since the page loaded
}

function registerBody(form) {
  const body = {
    id: form.elements.id.value.trim(),
    customer_id: form.elements.customer_id.value.trim(),
    customer_name: form.elements.customer_name.value.trim(),
    currency: form.elements.currency.value.trim().toUpperCase() || "USD",
    lines: [],
  };
  document.querySelectorAll("#register-lines tbody tr").forEach((row, i) => {
    const value = (name) => row.querySelector(`[name="${name}"]`).value.trim();
    const line = {
      line_id: String(i + 1), item_code: value("item_code"), description: value("description"),
      quantity: value("quantity"), unit_price: value("unit_price"),
    };
    if (value("tax_code")) line.tax_code = value("tax_code");  // R16: none means untaxed
    body.lines.push(line);
  });
  return body;
}

async function submitRegister(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (isBusy(form)) return;   // still sending the last submit
  const kind = form.elements.kind.value;
  const body = registerBody(form);
  await postForm({
    form, box: $("#register-error"), name: `register:${kind}`, path: `/${kind}`,
    body, noun: KIND_NOUN[kind], currency: body.currency, event, busyLabel: "Registering…",
  }, (job) => {
    $("#register-dialog").close();
    toast(`${capitalize(job.kind)} ${job.id} registered: total ${amountText(job.total, job.currency)}.`);
    replaceListedJob(job);
    selectJob(kind, job.id);
  });
}

export function bindRegisterDialog() {
  $("#register-open").addEventListener("click", openRegisterDialog);
  document.querySelectorAll('[data-action="register"]').forEach((b) => b.addEventListener("click", openRegisterDialog));
  const form = $("#register-form");
  form.addEventListener("submit", submitRegister);
  clearInvalidOnInput(form);
  $("#register-add-line").addEventListener("click", addLine);
}
