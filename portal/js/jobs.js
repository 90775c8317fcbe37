/* The job list (left): every order and project, filtered by kind or searched by ID or customer. */

import { listAll } from "./api.js";
import { $, clear, h } from "./dom.js";
import { amountText, badge, isReopened, share } from "./format.js";
import { KIND_PATH, reload, state } from "./state.js";

export async function loadJobs() {
  const [orders, projects] = await Promise.all([listAll("/orders"), listAll("/projects")]);
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

export function renderJobList() {
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
    isReopened(job) ? badge("reopened") : badge(job.status)),  // reopened (R14): open again
  h("span", { class: "job-item-meta" },
    h("span", {}, job.customer_name),
    h("span", {}, amountText(job.total, job.currency))),
  h("span", { class: "mini-bar", "aria-hidden": "true" },
    h("span", { style: `width:${share(job.billing.billed_to_date, job.total)}%` })),
  h("span", { class: "visually-hidden" }, `${job.billing.percent_billed}% billed`));
}

/** Open a job: its address is the hash (#/orders/SO-1001); the same address loads it again. */
export function selectJob(kind, id) {
  const hash = `#/${kind}/${encodeURIComponent(id)}`;
  closeSidebar();
  if (location.hash === hash) reload();
  else location.hash = hash;
}

export function replaceListedJob(job) {
  const index = state.jobs.findIndex((j) => j.kind === job.kind && j.id === job.id);
  if (index >= 0) state.jobs[index] = job;
  else state.jobs.unshift(job);
  renderJobList();
}

/** Narrow screens (portal.css): the job list is a panel that the top bar's Jobs button opens. */
export function closeSidebar() {
  document.body.classList.remove("sidebar-open");
  $("#sidebar-toggle").setAttribute("aria-expanded", "false");
}

function toggleSidebar() {
  const open = document.body.classList.toggle("sidebar-open");
  $("#sidebar-toggle").setAttribute("aria-expanded", open ? "true" : "false");
  if (open) $("#job-search").focus();
}

export function bindJobList() {
  $("#sidebar-toggle").addEventListener("click", toggleSidebar);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("sidebar-open")) closeSidebar();
  });
  document.querySelectorAll('input[name="kind-filter"]').forEach((radio) =>
    radio.addEventListener("change", () => { state.filter = radio.value; renderJobList(); }));
  $("#job-search").addEventListener("input", (event) => { state.search = event.target.value; renderJobList(); });
}
