/* The HTTP API client: fetch with the error shape {"error": {"code", "message", "details"}},
 * the bearer token of a deployed stack, and one Idempotency-Key per form. */

export class ApiError extends Error {
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

export function keyFor(formName, body) {
  const text = JSON.stringify(body);
  const previous = formKeys.get(formName);
  if (previous && previous.body === text) return previous.key;
  const key = newKey();
  formKeys.set(formName, { body: text, key });
  return key;
}

export function forgetKey(formName) {
  formKeys.delete(formName);
}

export async function api(method, path, body, idempotencyKey) {
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

export function jobPath(kind, id) {
  return `/${kind}/${encodeURIComponent(id)}`;
}

/** Every item of a paged list at ``path`` (``next_token``), up to about 2,000, ``limit`` a page. */
export async function listAll(path, limit = 100) {
  let items = [];
  let token = null;
  do {
    const query = new URLSearchParams({ limit: String(limit) });
    if (token) query.set("next_token", token);
    const page = await api("GET", `${path}?${query}`);
    items = items.concat(page.items || []);
    token = page.next_token;
  } while (token && items.length < 2000);
  return items;
}
