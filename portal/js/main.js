/* Progress Billing portal: the Billing tab of an order or a project.
 *
 * Native ES modules, no framework, no build step: index.html loads this entry module. Everything the
 * page shows comes from the HTTP API of docs/rules.md; money is shown exactly as the API returns it
 * (decimal strings) with the currency, and amounts typed by the user are sent as the strings they typed
 * (the API rejects JSON numbers).
 *
 * This module routes (the selected job is the address hash, #/orders/SO-1001; #/settings is the
 * Settings screen), loads the selected job and renders it through the view modules, and starts the page.
 */

import { api, jobPath, listAll } from "./api.js";
import { bindChangeDialog, renderChangeOrders } from "./changeorders.js";
import { $, capitalize, showBanner } from "./dom.js";
import { bindEditDialog } from "./edit.js";
import { bindFinalDialog } from "./final.js";
import { renderUser } from "./identity.js";
import { renderInvoices, renderOpenInvoice } from "./invoices.js";
import { bindJobList, loadJobs, renderJobList, replaceListedJob } from "./jobs.js";
import { renderLedger } from "./ledger.js";
import { bindRecordForm, renderRecordForm, renderRecords, resetRecordForm } from "./records.js";
import { bindRegisterDialog } from "./register.js";
import { bindSettings, loadSettings, openSettings } from "./settings.js";
import { renderShipments } from "./shipments.js";
import { KIND_NOUN, setReloader, state } from "./state.js";
import { renderHeader, renderLines, renderSummary } from "./summary.js";
import { bindVoidDialog } from "./voids.js";

function fromHash() {
  const match = /^#\/(orders|projects)\/(.+)$/.exec(location.hash);
  return match ? { kind: match[1], id: decodeURIComponent(match[2]) } : null;
}

const SETTINGS_HASH = "#/settings";

async function onRoute() {
  const settings = location.hash === SETTINGS_HASH;
  $("#settings-view").hidden = !settings;
  $("#settings-open").setAttribute("aria-current", settings ? "page" : "false");
  if (settings) {
    state.current = null;
    state.loadSeq++;   // a job still loading is not rendered
    renderJobList();
    $("#empty-state").hidden = true;
    $("#job-view").hidden = true;
    document.title = "Settings · Progress Billing";
    window.scrollTo(0, 0);
    await openSettings();
    return;
  }
  const target = fromHash();
  const changed = !target || !state.current ||
    target.kind !== state.current.kind || target.id !== state.current.id;
  state.current = target;
  if (changed) {
    state.invoiceId = null;
    resetRecordForm();
    window.scrollTo(0, 0);
  }
  renderJobList();
  $("#empty-state").hidden = Boolean(target);
  $("#job-view").hidden = !target;
  if (target) await loadCurrent();
  else document.title = "Progress Billing";
}

async function loadCurrent() {
  if (!state.current) return;
  const seq = ++state.loadSeq;
  const { kind, id } = state.current;
  const base = jobPath(kind, id);
  try {
    const [job, records, invoices, entries, shipments, changeOrders] = await Promise.all([
      api("GET", base),
      api("GET", `${base}/progress-billings`),
      api("GET", `${base}/invoices`),
      api("GET", `${base}/ledger`),
      kind === "orders" ? api("GET", `${base}/shipments`) : Promise.resolve({ items: [] }),
      listAll(`${base}/change-orders`, 50),
    ]);
    if (seq !== state.loadSeq) return;
    Object.assign(state, {
      job, records: records.items, invoices: invoices.items, entries: entries.items, shipments: shipments.items,
      changeOrders,
    });
    replaceListedJob(job);
    showBanner("");
    renderJob();
  } catch (err) {
    if (seq !== state.loadSeq) return;
    showBanner(err.code === "NOT_FOUND" ? `${capitalize(KIND_NOUN[kind])} ${id} was not found.` : err.message);
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
    await loadJobs();
    showBanner("");
  } catch (err) {
    showBanner(err.message);
  }
  loadSettings();
  await loadCurrent();
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
    await loadJobs();
  } catch (err) {
    showBanner(err.message);
  }
  await onRoute();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
