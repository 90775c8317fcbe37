/* Progress Billing portal: the Billing tab of an order or a project.
 *
 * Native ES modules, no framework, no build step: index.html loads this entry module. Everything the
 * page shows comes from the HTTP API of docs/rules.md; money is the API's decimal strings, formatted as
 * strings (thousands separators, the currency's decimals; format.js), and amounts typed by the user are sent as the strings they typed
 * (the API rejects JSON numbers).
 *
 * This module routes (the selected job is the address hash, #/orders/SO-1001; #/settings, #/invoices,
 * #/ledger and #/automation are pages), loads the selected job and renders it through the view modules
 * (a later navigation always wins: an earlier answer is dropped), and starts the page.
 */

import { api, jobPath, listAll } from "./api.js";
import { bindAutomationPage, openAutomationPage } from "./automation.js";
import { bindChangeDialog, renderChangeOrders } from "./changeorders.js";
import { $, capitalize, showBanner, withLoading } from "./dom.js";
import { bindEditDialog } from "./edit.js";
import { plainError } from "./errors.js";
import { bindFinalDialog } from "./final.js";
import { renderUser } from "./identity.js";
import { bindInvoicesPage, openInvoicesPage } from "./allinvoices.js";
import { renderInvoicePlaceholder, renderInvoices, renderOpenInvoice, setInvoiceOpener } from "./invoices.js";
import { bindJobList, closeSidebar, loadJobs, renderJobList, replaceListedJob } from "./jobs.js";
import { bindLedgerPage, openLedgerPage } from "./journal.js";
import { renderLedger } from "./ledger.js";
import { bindRecordForm, renderRecordForm, renderRecords, resetRecordForm } from "./records.js";
import { bindRegisterDialog } from "./register.js";
import { bindSettings, loadSettings, openSettings } from "./settings.js";
import { renderShipments } from "./shipments.js";
import { KIND_NOUN, setReloader, state } from "./state.js";
import { renderHeader, renderLines, renderSummary } from "./summary.js";
import { bindVoidDialog } from "./voids.js";

// The pages other than a job's Billing tab: #/settings, #/invoices[/INV-...], #/ledger, #/automation.
const PAGES = {
  settings: { view: "#settings-view", title: "Settings", open: () => openSettings() },
  invoices: { view: "#invoices-view", title: "Invoices", open: (arg) => openInvoicesPage(arg) },
  ledger: { view: "#ledger-view", title: "Ledger", open: () => openLedgerPage() },
  automation: { view: "#automation-view", title: "Automation runs", open: () => openAutomationPage() },
};

/** The address as a route: {page, arg} for a page, {job: {kind, id}} for a job, {} for the start. */
function fromHash() {
  const job = /^#\/(orders|projects)\/(.+)$/.exec(location.hash);
  if (job) return { job: { kind: job[1], id: decodeURIComponent(job[2]) } };
  const page = /^#\/(settings|invoices|ledger|automation)(?:\/(.+))?$/.exec(location.hash);
  if (page) return { page: page[1], arg: page[2] ? decodeURIComponent(page[2]) : null };
  return {};
}

/** Forget the job shown: its data must never stay on screen under another address. */
function clearJob() {
  Object.assign(state, {
    job: null, records: [], invoices: [], entries: [], shipments: [], changeOrders: [], invoiceId: null,
  });
  $("#job-view").hidden = true;
  for (const body of document.querySelectorAll("#job-view tbody")) {
    if (body.closest("#ledger-table")) body.remove();   // one tbody per entry
    else body.replaceChildren();
  }
  for (const sel of ["#job-title", "#job-kind", "#job-customer", "#stats", "#progress-percent", "#progress-of"]) {
    $(sel).replaceChildren();
  }
  renderInvoicePlaceholder();
}

function showOnly(selector) {
  for (const el of document.querySelectorAll("main > .page, #job-view, #empty-state, #not-found")) {
    el.hidden = selector === null || !el.matches(selector);
  }
}

async function onRoute() {
  const route = fromHash();
  document.querySelectorAll(".topnav [data-nav]").forEach((a) =>
    a.setAttribute("aria-current", a.dataset.nav === route.page ? "page" : "false"));
  closeSidebar();
  showBanner("");
  if (route.page) {
    state.current = null;
    state.loadSeq++;   // a job still loading is not rendered
    clearJob();
    renderJobList();
    const page = PAGES[route.page];
    showOnly(page.view);
    setInvoiceOpener(null);
    document.title = `${page.title} · Progress Billing`;
    window.scrollTo(0, 0);
    await page.open(route.arg);
    return;
  }
  setInvoiceOpener(null);
  const target = route.job || null;
  const changed = !target || !state.current ||
    target.kind !== state.current.kind || target.id !== state.current.id;
  state.current = target;
  if (changed) {
    state.loadSeq++;
    clearJob();
    resetRecordForm();
    window.scrollTo(0, 0);
  }
  renderJobList();
  if (!target) {
    showOnly("#empty-state");
    document.title = "Progress Billing";
    return;
  }
  showOnly(state.job ? "#job-view" : null);
  await loadCurrent();
}

async function loadCurrent() {
  if (!state.current) return;
  const seq = ++state.loadSeq;
  const { kind, id } = state.current;
  const base = jobPath(kind, id);
  try {
    const [job, records, invoices, entries, shipments, changeOrders] = await withLoading(Promise.all([
      api("GET", base),
      api("GET", `${base}/progress-billings`),
      api("GET", `${base}/invoices`),
      api("GET", `${base}/ledger`),
      kind === "orders" ? api("GET", `${base}/shipments`) : Promise.resolve({ items: [] }),
      listAll(`${base}/change-orders`, 50),
    ]), `Loading ${KIND_NOUN[kind]} ${id}…`);
    if (seq !== state.loadSeq) return;   // another job (or page) was opened meanwhile
    Object.assign(state, {
      job, records: records.items, invoices: invoices.items, entries: entries.items, shipments: shipments.items,
      changeOrders,
    });
    replaceListedJob(job);
    showBanner("");
    showOnly("#job-view");
    renderJob();
  } catch (err) {
    if (seq !== state.loadSeq) return;
    if (err.code === "NOT_FOUND") {
      clearJob();
      showOnly("#not-found");
      $("#not-found-title").textContent = `${capitalize(KIND_NOUN[kind])} ${id} was not found`;
      $("#not-found-text").textContent = `There is no ${KIND_NOUN[kind]} ${id}: it may never have been registered, ` +
        "or the address is mistyped.";
      document.title = `Not found · Progress Billing`;
      return;
    }
    if (!state.job) showOnly(null);   // nothing of another job stays on screen
    showBanner(`${capitalize(KIND_NOUN[kind])} ${id} could not be loaded: ${plainError(err)}`);
  }
}

function renderJob() {
  renderHeader();
  renderSummary();
  renderLines();
  renderChangeOrders();
  renderRecordForm();
  renderRecords();
  renderInvoices();
  renderLedger();
  renderShipments();
  renderOpenInvoice();
}

async function refreshAll() {
  try {
    await withLoading(loadJobs());
  } catch (err) {
    showBanner(plainError(err));
    return;
  }
  loadSettings();
  if (fromHash().page === "settings") return;   // what is typed on the Settings screen stays (Reload reads it)
  await onRoute();
}

function bindEvents() {
  bindJobList();
  bindRecordForm();
  bindEditDialog();
  bindFinalDialog();
  bindVoidDialog();
  bindChangeDialog();
  bindRegisterDialog();
  bindSettings();
  bindInvoicesPage();
  bindLedgerPage();
  bindAutomationPage();
  document.querySelectorAll("dialog [data-close]").forEach((b) =>
    b.addEventListener("click", () => b.closest("dialog").close()));
  $("#refresh-all").addEventListener("click", refreshAll);
  window.addEventListener("hashchange", onRoute);
}

async function start() {
  setReloader(loadCurrent);
  bindEvents();
  renderUser();
  loadSettings();
  try {
    await withLoading(loadJobs(), "Loading jobs…");
  } catch (err) {
    showBanner(plainError(err));
  }
  await onRoute();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
