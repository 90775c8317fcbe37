/* The page's state, shared by the views, and the hook that reloads the selected job. */

export const state = {
  jobs: [],            // orders and projects, as listed
  filter: "all",       // all | order | project
  search: "",
  current: null,       // {kind: "orders" | "projects", id}
  job: null,           // the selected job, with its billing summary
  records: [],
  invoices: [],
  entries: [],
  shipments: [],
  changeOrders: [],    // R15: CO-1 first
  invoiceId: null,     // the invoice open in the invoice view
  loadSeq: 0,          // discards responses for a job that is no longer selected
  settings: null,      // GET /settings as last read (R16 tax codes for the line forms)
};

export const KIND_PATH = { order: "orders", project: "projects" };
export const KIND_NOUN = { orders: "order", projects: "project" };

export function countRecords(status) {
  return state.records.filter((r) => r.status === status).length;
}

// main.js installs the loader, so that a view can reload the job without importing main.js.
let reloader = async () => {};

export function setReloader(fn) {
  reloader = fn;
}

/** Load the selected job again and render it. */
export function reload() {
  return reloader();
}
