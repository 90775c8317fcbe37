/* The Automation runs page (R18, #/automation): the daily automation's recent runs, newest first, a
 * page at a time; on the local stack (it answers GET /_local/status) an admin's "Run now" runs it at
 * once (POST /_local/automation, optionally for a business date) and the list is read again. */

import { api, queryString } from "./api.js";
import { $, clear, h, toast, withLoading } from "./dom.js";
import { clearFormError, isBusy, setBusy, showFormError } from "./forms.js";
import { isAdmin } from "./identity.js";
import { setInvoiceOpener } from "./invoices.js";
import { when } from "./format.js";

const LIMIT = 20;
const page = { token: null, next: null, index: 0, items: [], seq: 0 };
let local = null;   // whether the local stack answers /_local/status (asked once)

export async function openAutomationPage() {
  setInvoiceOpener((id) => { location.hash = `#/invoices/${encodeURIComponent(id)}`; });
  await Promise.all([loadRuns(null, 0), showRunNow()]);
}

async function isLocalStack() {
  if (local === null) {
    try {
      const status = await api("GET", "/_local/status");
      local = Boolean(status && status.api);
    } catch {
      local = false;
    }
  }
  return local;
}

async function showRunNow() {
  $("#run-now-form").hidden = !(isAdmin() && await isLocalStack());
}

async function loadRuns(token, index) {
  const box = $("#runs-error");
  const seq = ++page.seq;
  try {
    const result = await withLoading(api("GET", `/automation/runs${queryString({ limit: LIMIT, next_token: token })}`),
      "Loading the automation runs…");
    if (seq !== page.seq) return;
    box.hidden = true;
    Object.assign(page, { token, index, items: result.items || [], next: result.next_token || null });
    renderRuns();
  } catch (err) {
    if (seq !== page.seq) return;
    showFormError(box, $("#runs-table"), err, "automation", "", "read");
  }
}

function duration(run) {
  const ms = Date.parse(run.finished_at) - Date.parse(run.started_at);
  if (!Number.isFinite(ms) || ms < 0) return "";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function renderRuns() {
  const body = clear($("#runs-table tbody"));
  $("#runs-empty").hidden = page.items.length > 0;
  for (const run of page.items) {
    body.append(h("tr", { "data-run": run.run_id || "", class: run.failed ? "row-warn" : null },
      h("td", { class: "nowrap" }, run.business_date),
      h("td", { class: "nowrap" }, when(run.started_at)),
      h("td", { class: "nowrap" }, run.finished_at ? when(run.finished_at) : "running",
        run.finished_at ? h("span", { class: "sub" }, duration(run)) : null),
      h("td", { class: "num", "data-count": "invoiced" }, String(run.invoiced ?? 0)),
      h("td", { class: "num", "data-count": "failed" }, String(run.failed ?? 0)),
      h("td", { class: "num", "data-count": "skipped" }, String(run.skipped ?? 0)),
      h("td", {}, run.continued ? "yes: handed the rest on" : "no"),
      h("td", { class: "mono small" }, run.run_id || "—")));
  }
  $("#runs-page").textContent = page.index === 0 ? "Newest runs" : `Older runs, page ${page.index + 1}`;
  $("#runs-first").disabled = page.index === 0;
  $("#runs-next").disabled = !page.next;
}

async function runNow(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (isBusy(form)) return;
  const box = $("#runs-error");
  clearFormError(box, form);
  const date = form.elements.business_date.value;
  const restore = setBusy(form, $("#run-now"), "Running…");
  try {
    const result = await api("POST", "/_local/automation", date ? { business_date: date } : {});
    toast(`Automation run for ${result.business_date}: ${result.invoiced} invoiced, ${result.failed} failed, ` +
      `${result.skipped} skipped${result.complete === false ? " (continued)" : ""}.`);
    await loadRuns(null, 0);
  } catch (err) {
    showFormError(box, form, err, "automation", "", "automation");
  } finally {
    restore();
  }
}

export function bindAutomationPage() {
  $("#run-now-form").addEventListener("submit", runNow);
  $("#runs-first").addEventListener("click", () => loadRuns(null, 0));
  $("#runs-next").addEventListener("click", () => { if (page.next) loadRuns(page.next, page.index + 1); });
}
