/* Settings (R16, R20): the service's settings as the other views use them (the top bar's summary, the
 * tax codes a job line may pick), and the Settings screen (#/settings): accounts, auto-invoice on
 * shipment, tax on deposits, tax codes and company details. An admin saves them with PUT /settings,
 * sending back the version the screen loaded, so that a save over another admin's is refused (409
 * CONFLICT) instead of silently overwriting it; everyone else reads them. */

import { api } from "./api.js";
import { $, capitalize, clear, h, toast } from "./dom.js";
import { isBusy, setBusy, showFormError } from "./forms.js";
import { isAdmin } from "./identity.js";
import { state } from "./state.js";

const ACCOUNT_KEYS = ["receivable", "customer_deposits", "revenue"];
const COMPANY_KEYS = ["name", "address", "tax_id"];
const TAX_FIELDS = ["name", "rate", "account"];

// ---- the settings the other views read ------------------------------------------------------------

/** GET /settings into ``state.settings`` (and the top bar); on an error the last ones read are kept. */
export async function loadSettings() {
  try {
    useSettings(await api("GET", "/settings"));
  } catch {
    if (!state.settings) $("#settings-summary").textContent = "";
  }
  return state.settings;
}

function useSettings(settings) {
  state.settings = settings;
  const codes = Object.keys(settings.tax_codes || {}).length;
  $("#settings-summary").textContent =
    `Auto-invoice on shipment: ${settings.auto_invoice_on_shipment ? "on" : "off"} · ` +
    (codes ? `${codes} tax code${codes === 1 ? "" : "s"}` : "no tax codes");
}

/** The tax codes of the settings, in their order: [[code, {name, rate, account}], ...]. */
export function taxCodes() {
  return Object.entries((state.settings && state.settings.tax_codes) || {});
}

function taxOptions(selected) {
  return [h("option", { value: "" }, "No tax"),
    ...taxCodes().map(([code, tc]) => h("option", { value: code, selected: code === selected, title: tc.name },
      `${code} · ${tc.rate}%`))];
}

/** A job line's tax code: a select of the settings' codes, or none (``name`` tax_code, like the body). */
export function taxSelect(label, selected = "") {
  return h("select", { name: "tax_code", "aria-label": label }, taxOptions(selected));
}

/** Re-read the settings and rebuild the tax selects under ``root`` (each keeps its choice if it still exists). */
export async function refreshTaxSelects(root) {
  await loadSettings();
  root.querySelectorAll('select[name="tax_code"]').forEach((select) => {
    const value = select.value;
    select.replaceChildren(...taxOptions(value));
    select.value = taxCodes().some(([code]) => code === value) ? value : "";
  });
}

// ---- the Settings screen ---------------------------------------------------------------------------

let loaded = null;   // the settings the screen shows, as GET /settings returned them (their version is sent back)
let loadSeq = 0;

/** Show the Settings screen: GET /settings, discarding what was typed. */
export async function openSettings() {
  const seq = ++loadSeq;
  const form = $("#settings-form");
  clearErrors(form);
  renderAccess();
  try {
    const settings = await api("GET", "/settings");
    if (seq !== loadSeq) return;
    useSettings(settings);
    renderSettings(settings);
  } catch (err) {
    if (seq !== loadSeq) return;
    showFormError($("#settings-error"), form, err, "settings", "", "settings");
  }
}

/** Admins edit; everyone else reads (every field disabled, no Save, no Add or Remove). */
function renderAccess() {
  const admin = isAdmin();
  $("#settings-fields").disabled = !admin;
  $("#settings-readonly").hidden = admin;
  $("#settings-save").hidden = !admin;
  $("#settings-add-tax").hidden = !admin;
}

function renderSettings(s) {
  loaded = s;
  const form = $("#settings-form");
  const field = (name) => form.querySelector(`[name="${name}"]`);
  for (const key of ACCOUNT_KEYS) {
    field(`accounts.${key}`).value = s.accounts[key] || "";
    field(`account_names.${key}`).value = s.account_names[key] || "";
  }
  field("auto_invoice_on_shipment").checked = Boolean(s.auto_invoice_on_shipment);
  field("tax_on_deposits").checked = Boolean(s.tax_on_deposits);
  for (const key of COMPANY_KEYS) field(`company.${key}`).value = (s.company && s.company[key]) || "";
  const body = clear($("#settings-tax tbody"));
  for (const [code, tc] of Object.entries(s.tax_codes || {})) body.append(taxRow(code, tc));
  renderTaxEmpty();
  renderAccess();
  const meta = $("#settings-meta");
  meta.dataset.version = String(s.version);
  const by = s.updated_by && s.updated_by.username;
  meta.textContent = s.updated_at
    ? `Version ${s.version} · saved ${when(s.updated_at)}${by ? ` by ${by}` : ""}`
    : `Version ${s.version} · never saved: the defaults`;
  clearErrors(form);
}

function when(iso) {
  return `${String(iso).replace("T", " ").slice(0, 16)} UTC`;
}

function input(name, label, attrs = {}) {
  return h("input", {
    type: "text", name, "aria-label": label, autocomplete: "off", value: attrs.value ?? null,
    placeholder: attrs.placeholder || null, inputmode: attrs.inputmode || null, maxlength: attrs.maxlength || null,
    "data-field": attrs.field || null,
  });
}

function removeButton(label) {
  return h("button", {
    type: "button", class: "link-button link-danger", "aria-label": label, hidden: !isAdmin(),
    onclick: (event) => {
      event.currentTarget.closest("tr").remove();
      labelNewRows();
      renderTaxEmpty();
    },
  }, "Remove");
}

/** A saved code: its name, rate and account can change (a new code is a new row: remove and add to rename). */
function taxRow(code, tc) {
  const n = `Tax code ${code}`;
  const f = (name) => `tax_codes.${code}.${name}`;
  return h("tr", { "data-code": code },
    h("td", { class: "mono cell-text", "data-field": f("code") }, code),
    h("td", {}, input("name", `${n} name`, { value: tc.name, maxlength: 100, field: f("name") })),
    h("td", { class: "price" }, input("rate", `${n} rate`, { value: tc.rate, inputmode: "decimal", field: f("rate") })),
    h("td", { class: "code-cell" }, input("account", `${n} account`, { value: tc.account, maxlength: 20, field: f("account") })),
    h("td", { class: "cell-text" }, removeButton(`Remove tax code ${code}`)));
}

function newTaxRow() {
  return h("tr", { "data-new": "true" },
    h("td", { class: "code-cell" }, input("code", "New tax code code", { placeholder: "VAT20", maxlength: 20 })),
    h("td", {}, input("name", "New tax code name", { placeholder: "VAT 20%", maxlength: 100 })),
    h("td", { class: "price" }, input("rate", "New tax code rate", { placeholder: "20", inputmode: "decimal" })),
    h("td", { class: "code-cell" }, input("account", "New tax code account", { placeholder: "2200", maxlength: 20 })),
    h("td", { class: "cell-text" }, removeButton("Remove new tax code")));
}

/** New rows are "New tax code 1", "New tax code 2", ... in their labels. */
function labelNewRows() {
  document.querySelectorAll('#settings-tax tbody tr[data-new="true"]').forEach((row, i) => {
    const n = `New tax code ${i + 1}`;
    row.querySelectorAll("input").forEach((el) => el.setAttribute("aria-label", `${n} ${el.name}`));
    row.querySelector("button").setAttribute("aria-label", `Remove new tax code ${i + 1}`);
  });
}

function renderTaxEmpty() {
  $("#settings-tax-empty").hidden = $("#settings-tax tbody").rows.length > 0;
}

function addTaxCode() {
  $("#settings-tax tbody").append(newTaxRow());
  labelNewRows();
  renderTaxEmpty();
  const rows = document.querySelectorAll('#settings-tax tbody tr[data-new="true"]');
  rows[rows.length - 1].querySelector('input[name="code"]').focus();
}

// ---- saving --------------------------------------------------------------------------------------

/** The tax codes as typed: {map} or {problem: {el, message}} (a new code without a code, or a code twice). */
function typedTaxCodes() {
  const map = {};
  for (const row of document.querySelectorAll("#settings-tax tbody tr")) {
    const value = (name) => row.querySelector(`input[name="${name}"]`).value.trim();
    let code = row.dataset.code;
    if (row.dataset.new === "true") {
      code = value("code");
      if (!code && TAX_FIELDS.every((name) => value(name) === "")) continue;   // an empty new row
      const codeInput = row.querySelector('input[name="code"]');
      if (!code) return { problem: { el: codeInput, message: "Enter a code for the new tax code, e.g. VAT20." } };
      if (Object.hasOwn(map, code)) {
        return { problem: { el: codeInput, message: `There is already a tax code ${code}: choose another code.` } };
      }
      // a 422 names the typed code: tax_codes.VAT20.rate, or tax_codes.bad code.[key] for the code itself
      codeInput.dataset.field = `tax_codes.${code}.code`;
      for (const name of TAX_FIELDS) row.querySelector(`input[name="${name}"]`).dataset.field = `tax_codes.${code}.${name}`;
    }
    map[code] = { name: value("name"), rate: value("rate"), account: value("account") };
  }
  return { map };
}

function sameTaxCodes(a, b) {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((code) => b[code] && TAX_FIELDS.every((name) => String(a[code][name]) === String(b[code][name])));
}

/** PUT's body: the version loaded, and only what differs from it (tax_codes whole: the service replaces the map). */
function settingsBody(form) {
  const field = (name) => form.querySelector(`[name="${name}"]`);
  const body = { version: loaded.version };
  for (const group of ["accounts", "account_names"]) {
    for (const key of ACCOUNT_KEYS) {
      const value = field(`${group}.${key}`).value.trim();
      if (value !== (loaded[group][key] || "")) (body[group] ||= {})[key] = value;
    }
  }
  for (const name of ["auto_invoice_on_shipment", "tax_on_deposits"]) {
    if (field(name).checked !== Boolean(loaded[name])) body[name] = field(name).checked;
  }
  const { map, problem } = typedTaxCodes();
  if (problem) return { problem };
  if (!sameTaxCodes(map, loaded.tax_codes || {})) body.tax_codes = map;
  for (const key of COMPANY_KEYS) {
    const value = field(`company.${key}`).value.trim();
    if (value !== ((loaded.company && loaded.company[key]) || "")) (body.company ||= {})[key] = value;
  }
  return { body };
}

async function submitSettings(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const box = $("#settings-error");
  if (!loaded || !isAdmin() || isBusy(form)) return;
  clearErrors(form);
  const { body, problem } = settingsBody(form);
  if (problem) {
    showMessage(box, problem.message);
    markField(problem.el, problem.message);
    problem.el.focus();
    return;
  }
  if (Object.keys(body).length === 1) {
    showMessage(box, "Nothing to save: no setting was changed.");
    return;
  }
  const restore = setBusy(form, $("#settings-save"));
  try {
    const saved = await api("PUT", "/settings", body);
    useSettings(saved);
    renderSettings(saved);
    toast(`Settings saved: version ${saved.version}.`);
  } catch (err) {
    if (err.code === "CONFLICT") await showConflict(box, err);
    else if (err.code === "VALIDATION_ERROR") showInvalid(box, form, err);
    else showFormError(box, form, err, "settings", "", "settings");
  } finally {
    restore();
  }
}

/** 409 CONFLICT: another admin saved since this screen loaded. Nothing was saved; offer to reload. */
async function showConflict(box, err) {
  const sent = loaded.version;
  let current = null;
  try {
    current = await api("GET", "/settings");
    useSettings(current);   // the top bar; the form keeps what was typed until Reload
  } catch {
    current = null;
  }
  const detail = err.details.find((d) => d.field === "version") || {};
  const now = current ? current.version : detail.current;
  const by = current && current.updated_by && current.updated_by.username;
  const saved = current && current.updated_at ? ` (saved ${when(current.updated_at)}${by ? ` by ${by}` : ""})` : "";
  box.replaceChildren(
    h("strong", {}, "Another administrator saved the settings first."),
    h("p", {}, `This screen loaded version ${sent}; the settings are now at version ${now ?? "a newer one"}${saved}. ` +
      "Your changes were not saved, so that theirs are not overwritten."),
    h("p", {}, "Reload the settings to see what they saved (what you typed here is discarded), then make your " +
      "change again."),
    h("p", { class: "error-actions" }, h("button", {
      type: "button", class: "btn btn-secondary btn-sm", "data-action": "reload-settings", onclick: openSettings,
    }, "Reload settings")));
  box.dataset.code = "CONFLICT";
  box.hidden = false;
}

/** A 422: the fields it names outlined, each with the reason beside it in plain words, and a list above Save. */
function showInvalid(box, form, err) {
  const items = [];
  for (const d of err.details) {
    const el = fieldElement(form, d.field);
    const message = plainDetail(d.field, d.message);
    items.push(h("li", {}, `${labelOf(el, d.field)}: ${message}`));
    if (el) markField(el, message);
  }
  box.replaceChildren(h("strong", {}, "The settings were not saved. Please correct the highlighted fields:"),
    h("ul", {}, items));
  box.dataset.code = err.code;
  box.hidden = false;
  const first = form.querySelector('input[aria-invalid="true"], textarea[aria-invalid="true"]');
  if (first) first.focus();
}

/** The element a 422 field names (tax_codes.VAT20.rate, accounts.receivable, tax_codes.x y.[key], accounts). */
function fieldElement(form, field) {
  if (!field) return null;
  const find = (name) => form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  const key = /^(tax_codes\..+)\.\[key\]$/.exec(field);
  return find(field) || (key ? find(`${key[1]}.code`) : null) || find(field.split(".")[0]);
}

const GENERIC_LABELS = {
  accounts: "Accounts", account_names: "Account names", tax_codes: "Tax codes", company: "Company",
  auto_invoice_on_shipment: "Auto-invoice on shipment", tax_on_deposits: "Tax on deposits", body: "Request",
};

function labelOf(el, field) {
  if (el && el.matches("input, textarea, select")) {
    return el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].textContent.trim()) || field;
  }
  const code = /^tax_codes\.(.+)\.(\w+|\[key\])$/.exec(field || "");
  if (code) return `Tax code ${code[1]} ${code[2] === "[key]" ? "code" : code[2]}`;
  return GENERIC_LABELS[field] || GENERIC_LABELS[String(field).split(".")[0]] || field || "Request";
}

/** The service's reason for a field, in plain words (its own words when there is nothing plainer). */
export function plainDetail(field, message) {
  const text = String(message || "").replace(/\s*\(docs\/[^)]*\)\s*$/, "");
  let m;
  if (/at least 1 character/.test(text)) return "cannot be empty";
  if ((m = /at most (\d+) characters?/.exec(text))) return `is too long: at most ${m[1]} characters`;
  if (/should match pattern/.test(text)) return "may contain only letters, digits and - _ . (no spaces)";
  if (/\.rate$/.test(field || "")) {
    if (/decimal string/.test(text)) return "must be a percent written as a number, such as 20 or 12.5 (no % sign)";
    if (/decimal places/.test(text)) return "may have at most 4 decimal places";
    if (/less than|greater than|at most|at least/.test(text)) return "must be a percent from 0 to 100";
  }
  if ((m = /^(.+) is the receivable, deposits or revenue account$/.exec(text))) {
    return `${m[1]} is already the receivable, customer deposits or revenue account: tax needs an account of its own`;
  }
  if (/must be different accounts/.test(text)) {
    return "receivable, customer deposits and revenue must be three different accounts";
  }
  if (/valid boolean/.test(text)) return "must be on or off";
  return text;
}

/** Outline ``el`` and put the reason right after it. */
function markField(el, message) {
  el.setAttribute("aria-invalid", "true");
  const note = h("span", { class: "field-error", "data-error-for": el.dataset.field || "" }, capitalize(message));
  if (el.tagName === "TABLE") el.before(note);
  else if (el.tagName === "TD") el.append(note);
  else el.after(note);
}

function clearErrors(form) {
  const box = $("#settings-error");
  box.hidden = true;
  box.replaceChildren();
  delete box.dataset.code;
  form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
  form.querySelectorAll(".field-error").forEach((el) => el.remove());
}

function showMessage(box, message) {
  box.replaceChildren(h("strong", {}, message));
  box.hidden = false;
}

/** Typing in a field clears its outline and the reason beside it. */
function clearFieldOnInput(event) {
  const el = event.target;
  if (el.getAttribute("aria-invalid") !== "true") return;
  el.removeAttribute("aria-invalid");
  const note = el.nextElementSibling;
  if (note && note.classList.contains("field-error")) note.remove();
}

export function bindSettings() {
  const form = $("#settings-form");
  form.addEventListener("submit", submitSettings);
  form.addEventListener("input", clearFieldOnInput);
  $("#settings-add-tax").addEventListener("click", addTaxCode);
  $("#settings-reload").addEventListener("click", openSettings);
}
