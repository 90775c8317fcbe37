/* Progress Billing portal: the Billing tab of an order or a project.
 *
 * Plain JavaScript, no framework, no build step. Everything the page shows comes from the HTTP API of
 * PRODUCT.md; money is shown exactly as the API returns it (decimal strings) with the currency, and
 * amounts typed by the user are sent as the strings they typed (the API rejects JSON numbers).
 */
"use strict";

(function () {
  // ---- state ------------------------------------------------------------------------------------

  const state = {
    jobs: [],            // orders and projects, as listed
    filter: "all",       // all | order | project
    search: "",
    current: null,       // {kind: "orders" | "projects", id}
    job: null,           // the selected job, with its billing summary
    records: [],
    invoices: [],
    entries: [],
    shipments: [],
    invoiceId: null,     // the invoice open in the invoice view
    loadSeq: 0,          // discards responses for a job that is no longer selected
  };

  const KIND_PATH = { order: "orders", project: "projects" };
  const KIND_NOUN = { orders: "order", projects: "project" };

  // ---- DOM helpers ------------------------------------------------------------------------------

  const $ = (selector, root = document) => root.querySelector(selector);

  /** Build an element: h("td", {class: "num"}, "375.00", childNode...). Text is never parsed as HTML. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "class") el.className = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function clear(el) {
    el.replaceChildren();
    return el;
  }

  function capitalize(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  /** Money exactly as returned by the API, with its currency. */
  function money(value, currency) {
    if (value === null || value === undefined) return "—";
    return h("span", { class: "money" }, value, h("span", { class: "cur" }, " " + currency));
  }

  /** "0.00" with as many decimals as ``amount`` has (the currency's minor unit): JPY "0", KWD "0.000". */
  function zeroLike(amount) {
    const decimals = (String(amount).split(".")[1] || "").length;
    return decimals ? `0.${"0".repeat(decimals)}` : "0";
  }

  function isZero(value) {
    return /^-?0*(\.0*)?$/.test(String(value));
  }

  /** A share of the total, for drawing the progress bar only (never used for money). */
  function share(part, total) {
    const t = Number(total);
    const p = Number(part);
    if (!(t > 0) || !(p > 0)) return 0;
    return Math.min(100, (p / t) * 100);
  }

  function badge(status, extra) {
    const label = String(status || "").replace(/_/g, " ");
    return h("span", { class: `badge badge-${status}${extra ? " " + extra : ""}` }, label);
  }

  function invoiceLink(invoiceId) {
    if (!invoiceId) return "—";
    return h("button", {
      type: "button", class: "link-button mono", "data-invoice": invoiceId,
      "aria-label": `Open invoice ${invoiceId}`,
      onclick: (event) => { event.stopPropagation(); openInvoice(invoiceId, true); },
    }, invoiceId);
  }

  let toastTimer = null;
  function toast(text) {
    const el = $("#toast");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  function showBanner(text) {
    const el = $("#banner");
    el.textContent = text || "";
    el.hidden = !text;
  }

  // ---- the API ----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = Array.isArray(details) ? details : [];
    }
  }

  function newKey() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));  // plain-HTTP pages have no randomUUID
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /**
   * Idempotency-Key per form: a resend of the same body (double click, retry after a network error)
   * reuses the key, so the API answers it with the first response instead of billing twice.
   * A changed body, or a success, starts a new key.
   */
  const formKeys = new Map();

  function keyFor(formName, body) {
    const text = JSON.stringify(body);
    const previous = formKeys.get(formName);
    if (previous && previous.body === text) return previous.key;
    const key = newKey();
    formKeys.set(formName, { body: text, key });
    return key;
  }

  async function api(method, path, body, idempotencyKey) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const token = localStorage.getItem("billing.token");  // deployed stacks: a Cognito ID/access token
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "NETWORK", "Could not reach the billing service. Is the local stack running?", []);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(response.status, error.code || `HTTP_${response.status}`,
        error.message || `The service answered ${response.status} ${response.statusText}.`, error.details);
    }
    return data;
  }

  function jobPath(kind, id) {
    return `/${kind}/${encodeURIComponent(id)}`;
  }

  async function listAll(kind) {
    let items = [];
    let token = null;
    do {
      const query = new URLSearchParams({ limit: "100" });
      if (token) query.set("next_token", token);
      const page = await api("GET", `/${kind}?${query}`);
      items = items.concat(page.items || []);
      token = page.next_token;
    } while (token && items.length < 2000);
    return items;
  }

  // ---- errors in plain words --------------------------------------------------------------------

  const FIELD_LABELS = {
    invoice_date: "Invoice date", title: "Title", description: "Description",
    item_description: "Item description", amount: "Amt/Pct (amount)", percent: "Amt/Pct (percent)",
    schedule: "Schedule", body: "Request", id: "Job ID", customer_id: "Customer ID",
    customer_name: "Customer name", currency: "Currency", lines: "Lines",
    "Idempotency-Key": "Idempotency key",
  };

  function fieldLabel(field) {
    const line = /^lines\[(\d+)\]\.(\w+)$/.exec(field || "");
    if (line) return `Line ${Number(line[1]) + 1} ${line[2].replace(/_/g, " ")}`;
    return FIELD_LABELS[field] || field || "Request";
  }

  function plainMessage(err, noun, currency) {
    const detail = err.details[0] || {};
    switch (err.code) {
      case "OVERBILLING":
        if (detail.available !== undefined) {
          return `This would bill more than the ${noun} total. At most ${detail.available} ${currency} can ` +
            `still be billed (total ${detail.job_total}, already billed or scheduled ${detail.committed}).`;
        }
        return capitalize(err.message);
      case "JOB_FINALIZED":
        return `This ${noun} is finalized: its final invoice was issued, so nothing more can be billed.`;
      case "NOT_PENDING":
        return "Only a pending record can be cancelled; this one was already invoiced or closed.";
      case "VALIDATION_ERROR":
        return "Please correct the highlighted fields:";
      case "IDEMPOTENCY_CONFLICT":
        return "This request was already sent with other values. Please send it again.";
      case "ALREADY_EXISTS":
        return `${capitalize(err.message)}. Choose another ID.`;
      case "BUSY":
        return "Someone else is changing this job right now. Please try again in a moment.";
      case "UNAUTHORIZED":
        return "You are not signed in (the service needs a valid token).";
      case "FORBIDDEN":
        return "You are not allowed to do this.";
      default:
        return capitalize(err.message);
    }
  }

  /** Show an API error in a form's error box and mark the fields it names. */
  function showFormError(box, form, err, noun, currency) {
    clearFormError(box, form);
    const children = [h("strong", {}, plainMessage(err, noun, currency))];
    if (err.code === "VALIDATION_ERROR" && err.details.length) {
      children.push(h("ul", {}, err.details.map((d) => h("li", {}, `${fieldLabel(d.field)}: ${d.message}`))));
    }
    box.replaceChildren(...children);
    box.hidden = false;
    for (const d of err.details) markField(form, d.field);
  }

  function markField(form, field) {
    if (!field) return;
    let input = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
    if (!input && (field === "amount" || field === "percent")) input = form.querySelector('[data-field="value"]');
    if (input) input.setAttribute("aria-invalid", "true");
  }

  function clearFormError(box, form) {
    box.hidden = true;
    box.replaceChildren();
    form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
  }

  function localError(box, form, message, field) {
    clearFormError(box, form);
    box.replaceChildren(h("strong", {}, message));
    box.hidden = false;
    markField(form, field);
  }

  function setBusy(form, busy) {
    form.querySelectorAll("button").forEach((b) => { b.disabled = busy || b.dataset.locked === "true"; });
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // ---- the job list -----------------------------------------------------------------------------

  async function loadJobs() {
    const [orders, projects] = await Promise.all([listAll("orders"), listAll("projects")]);
    state.jobs = orders.concat(projects)
      .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    renderJobList();
  }

  function visibleJobs() {
    const needle = state.search.trim().toLowerCase();
    return state.jobs.filter((job) => {
      if (state.filter !== "all" && job.kind !== state.filter) return false;
      if (!needle) return true;
      return [job.id, job.customer_name, job.customer_id].some((v) => String(v).toLowerCase().includes(needle));
    });
  }

  function renderJobList() {
    const list = clear($("#job-list"));
    const jobs = visibleJobs();
    $("#job-list-empty").hidden = state.jobs.length > 0;
    list.hidden = state.jobs.length === 0;
    for (const job of jobs) list.append(h("li", {}, jobItem(job)));
    if (state.jobs.length && !jobs.length) list.append(h("li", { class: "sidebar-empty" }, "No job matches."));
  }

  function jobItem(job) {
    const kind = KIND_PATH[job.kind];
    const selected = state.current && state.current.kind === kind && state.current.id === job.id;
    return h("button", {
      type: "button", class: `job-item ${job.status}`, "aria-current": selected ? "true" : "false",
      "data-job": `${kind}/${job.id}`, onclick: () => selectJob(kind, job.id),
    },
    h("span", { class: "job-item-top" },
      h("span", {}, h("span", { class: "badge badge-kind" }, job.kind), " ",
        h("span", { class: "job-item-id" }, job.id)),
      badge(job.status)),
    h("span", { class: "job-item-meta" },
      h("span", {}, job.customer_name),
      h("span", {}, `${job.total} ${job.currency}`)),
    h("span", { class: "mini-bar", "aria-hidden": "true" },
      h("span", { style: `width:${share(job.billing.billed_to_date, job.total)}%` })),
    h("span", { class: "visually-hidden" }, `${job.billing.percent_billed}% billed`));
  }

  // ---- selecting and loading a job --------------------------------------------------------------

  function selectJob(kind, id) {
    const hash = `#/${kind}/${encodeURIComponent(id)}`;
    if (location.hash === hash) loadCurrent();
    else location.hash = hash;
  }

  function fromHash() {
    const match = /^#\/(orders|projects)\/(.+)$/.exec(location.hash);
    return match ? { kind: match[1], id: decodeURIComponent(match[2]) } : null;
  }

  async function onRoute() {
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
  }

  async function loadCurrent() {
    if (!state.current) return;
    const seq = ++state.loadSeq;
    const { kind, id } = state.current;
    const base = jobPath(kind, id);
    try {
      const [job, records, invoices, entries, shipments] = await Promise.all([
        api("GET", base),
        api("GET", `${base}/progress-billings`),
        api("GET", `${base}/invoices`),
        api("GET", `${base}/ledger`),
        kind === "orders" ? api("GET", `${base}/shipments`) : Promise.resolve({ items: [] }),
      ]);
      if (seq !== state.loadSeq) return;
      Object.assign(state, {
        job, records: records.items, invoices: invoices.items, entries: entries.items, shipments: shipments.items,
      });
      replaceListedJob(job);
      showBanner("");
      renderJob();
    } catch (err) {
      if (seq !== state.loadSeq) return;
      showBanner(err.code === "NOT_FOUND" ? `${capitalize(KIND_NOUN[kind])} ${id} was not found.` : err.message);
    }
  }

  function replaceListedJob(job) {
    const index = state.jobs.findIndex((j) => j.kind === job.kind && j.id === job.id);
    if (index >= 0) state.jobs[index] = job;
    else state.jobs.unshift(job);
    renderJobList();
  }

  function renderJob() {
    renderHeader();
    renderSummary();
    renderLines();
    renderRecordForm();
    renderRecords();
    renderInvoices();
    renderLedger();
    renderShipments();
    const open = state.invoiceId || latestInvoiceId();
    if (open) openInvoice(open, false);
    else renderInvoicePlaceholder();
  }

  function latestInvoiceId() {
    const last = state.invoices[state.invoices.length - 1];
    return last ? last.invoice_id : null;
  }

  // ---- header and summary -----------------------------------------------------------------------

  function renderHeader() {
    const job = state.job;
    $("#job-kind").textContent = job.kind === "order" ? "Order · Billing" : "Project · Billing";
    $("#job-title").textContent = job.id;
    $("#job-customer").textContent = `${job.customer_name} (${job.customer_id}) · ${job.currency}`;
    const status = $("#job-status");
    status.className = `badge badge-lg badge-${job.status}`;
    status.textContent = job.status;
    const open = job.status === "open";
    $("#final-open").hidden = !open;
    const done = clear($("#final-done"));
    done.hidden = open;
    if (!open) done.append("Final invoice ", invoiceLink(job.final_invoice_id));
    document.title = `${job.id} · Progress Billing`;
  }

  function renderSummary() {
    const job = state.job;
    const b = job.billing;
    const c = job.currency;
    $("#progress-percent").textContent = `${b.percent_billed}%`;
    $("#progress-of").textContent = `billed · ${b.billed_to_date} of ${job.total} ${c}`;
    $("#summary-caption").textContent =
      job.status === "finalized" ? `Finalized ${String(job.finalized_at || "").slice(0, 10)}` : "Open for billing";
    const bar = $("#progress");
    bar.setAttribute("aria-valuenow", b.percent_billed);
    bar.setAttribute("aria-valuetext", `${b.percent_billed}% billed: ${b.billed_to_date} of ${job.total} ${c}`);
    for (const seg of bar.querySelectorAll(".seg")) {
      seg.style.width = `${share(b[seg.dataset.seg], job.total)}%`;
    }
    renderLegend(b, c);
    renderStats(job);
  }

  function renderLegend(b, c) {
    const items = [
      ["seg-deposit", "Deposits", b.deposits_billed],
      ["seg-shipment", "Shipments", b.shipments_billed],
      ["seg-final", "Final invoice", b.final_billed],
      ["seg-pending", "Scheduled", b.pending_scheduled],
    ];
    const legend = clear($(".legend"));
    for (const [cls, label, value] of items) {
      legend.append(h("li", {}, h("span", { class: `swatch ${cls}` }), `${label} ${value} ${c}`));
    }
  }

  function renderStats(job) {
    const b = job.billing;
    const c = job.currency;
    const stats = [
      ["Job total", money(job.total, c), `${job.lines.length} line${job.lines.length === 1 ? "" : "s"}`],
      ["Billed to date", money(b.billed_to_date, c), `${b.percent_billed}% of total`],
      ["Deposit balance", money(b.deposit_balance, c),
        `${b.deposit_invoice_count ?? 0} deposit invoice${b.deposit_invoice_count === 1 ? "" : "s"}`],
      ["Pending scheduled", money(b.pending_scheduled, c), `${countRecords("pending")} pending`],
      ["Remaining", money(b.remaining, c), "not yet billed"],
    ];
    const dl = clear($("#stats"));
    for (const [label, value, sub] of stats) {
      dl.append(h("div", { class: "stat", "data-stat": label }, h("dt", {}, label),
        h("dd", {}, value, h("span", { class: "sub" }, sub))));
    }
  }

  function countRecords(status) {
    return state.records.filter((r) => r.status === status).length;
  }

  function renderLines() {
    const job = state.job;
    const body = clear($("#lines-table tbody"));
    for (const line of job.lines) {
      body.append(h("tr", {},
        h("td", {}, line.line_id),
        h("td", { class: "mono" }, line.item_code),
        h("td", {}, line.description),
        h("td", { class: "num" }, line.quantity),
        h("td", { class: "num" }, line.unit_price),
        h("td", { class: "num" }, money(line.amount, job.currency)),
        h("td", { class: "num" }, line.shipped_quantity),
        h("td", { class: "num" }, money(line.billed_amount, job.currency))));
    }
  }

  // ---- progress billing records -----------------------------------------------------------------

  function sortedRecords() {
    return state.records.slice().sort((a, b) =>
      String(a.invoice_date).localeCompare(String(b.invoice_date)) ||
      String(a.created_at).localeCompare(String(b.created_at)));
  }

  function renderRecords() {
    const body = clear($("#records-table tbody"));
    const records = sortedRecords();
    $("#records-empty").hidden = records.length > 0;
    for (const record of records) body.append(recordRow(record));
  }

  function recordRow(r) {
    const subtitle = [r.item_description, r.description].filter(Boolean).join(" · ");
    return h("tr", { "data-record": r.record_id, class: r.status === "cancelled" ? "row-muted" : null },
      h("td", { class: "nowrap" }, r.invoice_date,
        r.schedule ? h("span", { class: "sub" }, "scheduled") : null),
      h("td", {}, h("span", { class: "cell-title" }, r.title || "(no title)"),
        subtitle ? h("span", { class: "sub" }, subtitle) : null),
      h("td", { class: "num" }, money(r.amount, r.currency)),
      h("td", { class: "num" }, r.percent !== null && r.percent !== undefined ? `${r.percent}%` : "—"),
      h("td", {}, badge(r.status),
        r.failure_reason ? h("span", { class: "reason" }, r.failure_reason) : null),
      h("td", {}, invoiceLink(r.invoice_id)),
      h("td", { class: "num" }, r.status === "pending" ? h("button", {
        type: "button", class: "link-button link-danger", onclick: () => cancelRecord(r),
        "aria-label": `Cancel scheduled record ${r.title || r.record_id}`,
      }, "Cancel") : null));
  }

  async function cancelRecord(record) {
    const ok = await confirmAction(
      "Cancel this scheduled record?",
      `“${record.title || record.record_id}” for ${record.amount} ${record.currency}, due ${record.invoice_date}, ` +
      "will not be invoiced by the automation.",
      "Cancel record");
    if (!ok) return;
    const { kind, id } = state.current;
    try {
      await api("DELETE", `${jobPath(kind, id)}/progress-billings/${encodeURIComponent(record.record_id)}`);
      toast(`Record “${record.title || record.record_id}” cancelled.`);
    } catch (err) {
      showFormError($("#record-error"), $("#record-form"), err, KIND_NOUN[kind], state.job.currency);
    }
    await loadCurrent();
  }

  // ---- the record form --------------------------------------------------------------------------

  function basis() {
    return $('#record-form input[name="basis"]:checked').value;
  }

  function renderRecordForm() {
    const job = state.job;
    const form = $("#record-form");
    const closed = job.status !== "open";
    form.querySelectorAll("input, textarea, button").forEach((el) => {
      el.disabled = closed;
      if (el.tagName === "BUTTON") el.dataset.locked = closed ? "true" : "false";
    });
    form.querySelector(".form-grid").hidden = closed;
    form.classList.toggle("is-closed", closed);
    const notice = $("#record-closed");
    notice.hidden = !closed;
    notice.textContent = closed
      ? `This ${job.kind} is finalized by ${job.final_invoice_id}: no further progress billing.` : "";
    renderBasis();
  }

  function renderBasis() {
    const input = $("#rf-value");
    const job = state.job;
    const currency = job ? job.currency : "";
    if (basis() === "percent") {
      input.setAttribute("aria-label", "Percent of the job total");
      input.placeholder = "25";
      $("#rf-suffix").textContent = "%";
      $("#rf-value-hint").textContent = job ? `Percent of the job total, ${job.total} ${currency}` : "";
    } else {
      input.setAttribute("aria-label", `Amount in ${currency}`);
      input.placeholder = job ? zeroLike(job.total) : "0.00";
      $("#rf-suffix").textContent = currency;
      $("#rf-value-hint").textContent = job
        ? `Remaining ${job.billing.remaining} ${currency}, of which ${job.billing.pending_scheduled} scheduled` : "";
    }
  }

  function resetRecordForm() {
    const form = $("#record-form");
    form.reset();
    clearFormError($("#record-error"), form);
  }

  function recordBody(form, schedule) {
    const body = {};
    for (const name of ["invoice_date", "title", "description", "item_description"]) {
      const value = form.elements[name].value;
      if (value.trim() !== "") body[name] = value;
    }
    body[basis()] = form.elements.amtpct.value.trim();  // a string, as typed
    if (schedule) body.schedule = true;
    return body;
  }

  async function submitRecord(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const box = $("#record-error");
    const schedule = event.submitter && event.submitter.value === "schedule";
    const job = state.job;
    const noun = job.kind;
    if (form.elements.amtpct.value.trim() === "") {
      localError(box, form, "Enter an amount or a percentage in Amt/Pct.", "value");
      form.elements.amtpct.focus();
      return;
    }
    const body = recordBody(form, schedule);
    const formName = `record:${state.current.kind}/${state.current.id}`;
    const key = keyFor(formName, body);
    clearFormError(box, form);
    setBusy(form, true);
    try {
      const result = await api("POST", `${jobPath(state.current.kind, state.current.id)}/progress-billings`, body, key);
      formKeys.delete(formName);
      resetFields(form);
      announceRecord(result, job.currency);
      if (result.invoice) state.invoiceId = result.invoice.invoice_id;
      await loadCurrent();
    } catch (err) {
      if (err.code === "IDEMPOTENCY_CONFLICT") formKeys.delete(formName);
      showFormError(box, form, err, noun, job.currency);
    } finally {
      setBusy(form, false);
    }
  }

  function resetFields(form) {
    for (const name of ["invoice_date", "title", "description", "item_description", "amtpct"]) {
      form.elements[name].value = "";
    }
  }

  function announceRecord(result, currency) {
    const r = result.record;
    if (result.invoice) {
      toast(`Deposit invoice ${result.invoice.number} created for ${result.invoice.total} ${currency}.`);
    } else {
      toast(`Scheduled ${r.amount} ${currency} for ${r.invoice_date}.`);
    }
  }

  // ---- invoices ---------------------------------------------------------------------------------

  function renderInvoices() {
    const body = clear($("#invoices-table tbody"));
    $("#invoices-empty").hidden = state.invoices.length > 0;
    for (const inv of state.invoices) {
      body.append(h("tr", {
        "data-invoice-row": inv.invoice_id, "aria-selected": inv.invoice_id === state.invoiceId ? "true" : "false",
        onclick: () => openInvoice(inv.invoice_id, false),
      },
      h("td", {}, invoiceLink(inv.invoice_id)),
      h("td", {}, badge(inv.type)),
      h("td", { class: "nowrap" }, inv.invoice_date),
      h("td", {}, inv.title || "—"),
      h("td", { class: "num" }, money(inv.total, inv.currency))));
    }
  }

  function markSelectedInvoice() {
    for (const row of document.querySelectorAll("#invoices-table tbody tr")) {
      row.setAttribute("aria-selected", row.dataset.invoiceRow === state.invoiceId ? "true" : "false");
    }
  }

  function renderInvoicePlaceholder() {
    clear($("#invoice-view")).append(h("p", { class: "muted invoice-placeholder" }, "Select an invoice to read it."));
  }

  async function openInvoice(invoiceId, scroll) {
    state.invoiceId = invoiceId;
    markSelectedInvoice();
    let invoice = state.invoices.find((inv) => inv.invoice_id === invoiceId);
    try {
      invoice = await api("GET", `/invoices/${encodeURIComponent(invoiceId)}`);
    } catch (err) {
      if (!invoice) {
        clear($("#invoice-view")).append(h("p", { class: "form-error" }, capitalize(err.message)));
        return;
      }
    }
    if (state.invoiceId !== invoiceId) return;
    renderInvoice(invoice);
    if (scroll) $("#invoices-section").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  const INVOICE_TYPES = { deposit: "Deposit invoice", shipment: "Shipment invoice", final: "Final invoice" };

  function renderInvoice(inv) {
    const view = clear($("#invoice-view"));
    view.setAttribute("aria-label", `Invoice ${inv.number}`);
    const parts = [
      invoiceHead(inv),
      inv.title ? h("p", { class: "invoice-title" }, inv.title) : null,
      inv.description ? h("p", { class: "invoice-desc" }, inv.description) : null,
      invoiceLines(inv),
      h("div", { class: "invoice-bottom" }, invoiceRefs(inv), billingBlock(inv)),
    ];
    view.append(...parts.filter(Boolean));
  }

  function invoiceHead(inv) {
    const kindNoun = inv.kind === "order" ? "Order" : "Project";
    return h("header", { class: "invoice-head" },
      h("div", {},
        h("p", { class: "doc-type" }, INVOICE_TYPES[inv.type] || inv.type),
        h("p", { class: "invoice-number" }, inv.number),
        h("p", {}, h("span", { class: "muted" }, "Bill to "), inv.customer_name || "",
          inv.customer_id ? h("span", { class: "muted" }, ` (${inv.customer_id})`) : null)),
      h("dl", { class: "invoice-meta" },
        h("dt", {}, "Invoice date"), h("dd", {}, inv.invoice_date),
        h("dt", {}, kindNoun), h("dd", {}, inv.job_id),
        h("dt", {}, "Type"), h("dd", {}, badge(inv.type)),
        h("dt", {}, "Currency"), h("dd", {}, inv.currency)));
  }

  function invoiceLines(inv) {
    const rows = inv.lines.map((line) => invoiceLine(line, inv.currency));
    return h("table", { class: "table invoice-lines" },
      h("caption", { class: "visually-hidden" }, `Lines of invoice ${inv.number}`),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Description"),
        h("th", { scope: "col", class: "num" }, "Qty"), h("th", { scope: "col", class: "num" }, "Unit price"),
        h("th", { scope: "col", class: "num" }, "Amount"))),
      h("tbody", {}, rows),
      h("tfoot", {}, h("tr", {},
        h("td", { colspan: "4" }, inv.type === "final" ? "Balance due" : "Total"),
        h("td", { class: "num", "data-total": "" }, money(inv.total, inv.currency)))));
  }

  function invoiceLine(line, currency) {
    const notes = [];
    if (line.percent !== null && line.percent !== undefined) {
      notes.push(h("span", { class: "sub" }, `${line.percent}% of the job total`));
    }
    if (line.reverses_invoice_id) {
      notes.push(h("span", { class: "sub reverses" }, "Reverses ", invoiceLink(line.reverses_invoice_id)));
    }
    return h("tr", { class: line.reverses_invoice_id ? "reversal" : null },
      h("td", { class: "code" }, line.code),
      h("td", {}, line.description, notes),
      h("td", { class: "num" }, line.quantity),
      h("td", { class: "num" }, line.unit_price),
      h("td", { class: "num" }, money(line.amount, currency)));
  }

  function billingBlock(inv) {
    const b = inv.billing || {};
    const c = inv.currency;
    const rows = [
      ["Job total", b.job_total],
      ["Revenue recognized", b.revenue_recognized],
      ["Deposits reversed", b.deposits_reversed],
      ["Billed before", b.billed_before],
      ["This invoice", b.this_invoice, "strong"],
      ["Billed to date", b.billed_to_date],
      ["Remaining", b.remaining],
    ].filter(([, value]) => value !== undefined);
    return h("dl", { class: "billing-block", "aria-label": "Billing" },
      rows.map(([label, value, cls]) => h("div", { class: cls || null },
        h("dt", {}, label), h("dd", {}, money(value, c)))));
  }

  function invoiceRefs(inv) {
    const refs = [h("span", {}, "Journal entry ", h("span", { class: "mono" }, inv.journal_entry_id))];
    if (inv.record_id) refs.push(h("span", {}, "Progress billing record ", h("span", { class: "mono" }, inv.record_id)));
    if (inv.shipment_id) refs.push(h("span", {}, "Shipment ", h("span", { class: "mono" }, inv.shipment_id)));
    if (inv.cancelled_record_ids && inv.cancelled_record_ids.length) {
      refs.push(h("span", {}, `Cancelled ${inv.cancelled_record_ids.length} scheduled record(s)`));
    }
    if (inv.issued_at) refs.push(h("span", {}, `Issued ${inv.issued_at.replace("T", " ").slice(0, 19)} UTC`));
    return h("div", { class: "invoice-refs" }, refs);
  }

  // ---- journal entries and shipments -------------------------------------------------------------

  function renderLedger() {
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

  function renderShipments() {
    const isOrder = state.current.kind === "orders";
    $("#shipments-section").hidden = !isOrder;
    if (!isOrder) return;
    const body = clear($("#shipments-table tbody"));
    $("#shipments-empty").hidden = state.shipments.length > 0;
    for (const s of state.shipments) {
      const lines = (s.lines || []).map((l) => `line ${l && l.line_id} × ${l && l.quantity}`).join(", ");
      body.append(h("tr", {},
        h("td", { class: "mono" }, s.shipment_id),
        h("td", { class: "nowrap" }, s.ship_date || "—"),
        h("td", {}, lines || "—"),
        h("td", {}, badge(s.status)),
        h("td", {}, s.reason ? s.reason.replace(/_/g, " ") : "—", s.detail ? h("span", { class: "sub" }, s.detail) : null),
        h("td", {}, invoiceLink(s.invoice_id))));
    }
  }

  // ---- final invoice ----------------------------------------------------------------------------

  function openFinalDialog() {
    const job = state.job;
    const b = job.billing;
    const c = job.currency;
    const pending = countRecords("pending");
    $("#final-explain").textContent =
      `The final invoice recognizes the revenue of ${job.kind} ${job.id}, reverses its ` +
      `${b.deposit_invoice_count} deposit invoice(s) and bills the balance due.` +
      (pending ? ` ${pending} scheduled record(s) will be cancelled.` : "");
    const facts = clear($("#final-facts"));
    const rows = [
      ["Job total", job.total], ["Billed by shipment invoices", b.shipments_billed],
      ["Deposits to reverse", b.deposits_billed], ["Balance due on the final invoice", b.remaining],
    ];
    for (const [label, value] of rows) facts.append(h("li", {}, h("span", {}, label), h("span", {}, `${value} ${c}`)));
    const form = $("#final-form");
    form.reset();
    clearFormError($("#final-error"), form);
    $("#final-dialog").showModal();
  }

  async function submitFinal(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const box = $("#final-error");
    const body = {};
    if (form.elements.invoice_date.value) body.invoice_date = form.elements.invoice_date.value;
    if (form.elements.title.value.trim()) body.title = form.elements.title.value;
    const formName = `final:${state.current.kind}/${state.current.id}`;
    const key = keyFor(formName, body);
    clearFormError(box, form);
    setBusy(form, true);
    try {
      const result = await api("POST", `${jobPath(state.current.kind, state.current.id)}/final-invoice`, body, key);
      formKeys.delete(formName);
      $("#final-dialog").close();
      state.invoiceId = result.invoice.invoice_id;
      toast(`Final invoice ${result.invoice.number} created: balance due ${result.invoice.total} ${result.invoice.currency}.`);
      await loadCurrent();
    } catch (err) {
      if (err.code === "IDEMPOTENCY_CONFLICT") formKeys.delete(formName);
      showFormError(box, form, err, state.job.kind, state.job.currency);
    } finally {
      setBusy(form, false);
    }
  }

  // ---- register a job ---------------------------------------------------------------------------

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
      h("td", {}, index > 0 ? h("button", {
        type: "button", class: "link-button link-danger", "aria-label": `Remove line ${n}`,
        onclick: (event) => { event.currentTarget.closest("tr").remove(); renumberLines(); },
      }, "Remove") : null));
  }

  function renumberLines() {
    const rows = Array.from(document.querySelectorAll("#register-lines tbody tr"));
    rows.forEach((row, i) => {
      row.cells[0].textContent = String(i + 1);
      row.querySelectorAll("input").forEach((input) => {
        input.dataset.field = `lines[${i}].${input.name}`;
        input.setAttribute("aria-label", input.getAttribute("aria-label").replace(/^Line \d+/, `Line ${i + 1}`));
      });
    });
  }

  function openRegisterDialog() {
    const form = $("#register-form");
    form.reset();
    clearFormError($("#register-error"), form);
    clear($("#register-lines tbody")).append(lineRow(0));
    $("#register-dialog").showModal();
    $("#rg-id").focus();
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
      const value = (name) => row.querySelector(`input[name="${name}"]`).value.trim();
      body.lines.push({
        line_id: String(i + 1), item_code: value("item_code"), description: value("description"),
        quantity: value("quantity"), unit_price: value("unit_price"),
      });
    });
    return body;
  }

  async function submitRegister(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const box = $("#register-error");
    const kind = form.elements.kind.value;
    const body = registerBody(form);
    const formName = `register:${kind}`;
    const key = keyFor(formName, body);
    clearFormError(box, form);
    setBusy(form, true);
    try {
      const job = await api("POST", `/${kind}`, body, key);
      formKeys.delete(formName);
      $("#register-dialog").close();
      toast(`${capitalize(job.kind)} ${job.id} registered: total ${job.total} ${job.currency}.`);
      replaceListedJob(job);
      selectJob(kind, job.id);
    } catch (err) {
      if (err.code === "IDEMPOTENCY_CONFLICT") formKeys.delete(formName);
      showFormError(box, form, err, KIND_NOUN[kind], body.currency);
    } finally {
      setBusy(form, false);
    }
  }

  // ---- confirmation dialog ----------------------------------------------------------------------

  function confirmAction(title, text, yesLabel) {
    const dialog = $("#confirm-dialog");
    $("#confirm-heading").textContent = title;
    $("#confirm-text").textContent = text;
    $("#confirm-yes").textContent = yesLabel;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    });
  }

  // ---- settings and start-up --------------------------------------------------------------------

  async function loadSettings() {
    try {
      const settings = await api("GET", "/settings");
      $("#settings-summary").textContent =
        `Auto-invoice on shipment: ${settings.auto_invoice_on_shipment ? "on" : "off"}`;
    } catch {
      $("#settings-summary").textContent = "";
    }
  }

  async function refreshAll() {
    try {
      await loadJobs();
      showBanner("");
    } catch (err) {
      showBanner(err.message);
    }
    await loadCurrent();
  }

  function bindEvents() {
    $("#record-form").addEventListener("submit", submitRecord);
    $("#record-form").addEventListener("input", (event) => event.target.removeAttribute("aria-invalid"));
    document.querySelectorAll('#record-form input[name="basis"]').forEach((radio) =>
      radio.addEventListener("change", () => { renderBasis(); $("#rf-value").focus(); }));
    $("#final-open").addEventListener("click", openFinalDialog);
    $("#final-form").addEventListener("submit", submitFinal);
    $("#register-open").addEventListener("click", openRegisterDialog);
    document.querySelectorAll('[data-action="register"]').forEach((b) => b.addEventListener("click", openRegisterDialog));
    $("#register-form").addEventListener("submit", submitRegister);
    $("#register-form").addEventListener("input", (event) => event.target.removeAttribute("aria-invalid"));
    $("#register-add-line").addEventListener("click", () => {
      const body = $("#register-lines tbody");
      body.append(lineRow(body.rows.length));
      body.rows[body.rows.length - 1].querySelector("input").focus();
    });
    document.querySelectorAll("dialog [data-close]").forEach((b) =>
      b.addEventListener("click", () => b.closest("dialog").close()));
    document.querySelectorAll('input[name="kind-filter"]').forEach((radio) =>
      radio.addEventListener("change", () => { state.filter = radio.value; renderJobList(); }));
    $("#job-search").addEventListener("input", (event) => { state.search = event.target.value; renderJobList(); });
    $("#refresh-all").addEventListener("click", refreshAll);
    window.addEventListener("hashchange", onRoute);
  }

  async function start() {
    bindEvents();
    loadSettings();
    try {
      await loadJobs();
    } catch (err) {
      showBanner(err.message);
    }
    await onRoute();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
