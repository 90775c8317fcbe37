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

function headersFor(accept, body, idempotencyKey) {
  const headers = { Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const token = localStorage.getItem("billing.token");  // deployed stacks: a Cognito ID/access token
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

/** fetch ``path``; an error answer becomes an ApiError (the error shape's code, message and details). */
async function send(method, path, body, idempotencyKey, accept) {
  let response;
  try {
    response = await fetch(path, {
      method, headers: headersFor(accept, body, idempotencyKey),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "NETWORK", "Could not reach the billing service. Is the local stack running?", []);
  }
  if (!response.ok) {
    let data = null;
    try {
      data = JSON.parse(await response.text());
    } catch {
      data = null;
    }
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || `HTTP_${response.status}`,
      error.message || `The service answered ${response.status} ${response.statusText}.`, error.details);
  }
  return response;
}

export async function api(method, path, body, idempotencyKey) {
  const response = await send(method, path, body, idempotencyKey, "application/json");
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** A GET whose answer is not JSON (a PDF, a CSV page): the Response, with the bearer token sent. */
export function fetchRaw(path, accept) {
  return send("GET", path, undefined, undefined, accept);
}

/** Save ``blob`` as a file named ``filename`` (a link cannot carry the Authorization header, a blob can). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** "?from=...&limit=50" from the entries of ``params`` that have a value. */
export function queryString(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `?${text}` : "";
}

/**
 * A listing read a page at a time by ``next_token`` (the registers, R18). ``read(token)`` fetches one
 * page, ``show()`` draws the pager's ``items``, ``fail(err)`` reports an error; ``check()``, if given,
 * may refuse to read (a form that is not valid). ``tokens[i]`` loads page i; an answer to an earlier
 * request never replaces a later one; a token the API refuses (400: the listing changed under it)
 * starts again from the first page.
 */
export function pager(read, show, fail, check = () => true) {
  const p = { tokens: [null], index: 0, next: null, items: [], seq: 0 };
  p.load = async (index) => {
    if (!check()) return;
    const seq = ++p.seq;
    try {
      const result = await read(p.tokens[index]);
      if (seq !== p.seq) return;
      p.index = index;
      p.items = result.items || [];
      p.next = result.next_token || null;
      p.tokens[index + 1] = p.next;
      show();
    } catch (err) {
      if (seq !== p.seq) return;
      if (err.code === "BAD_REQUEST" && index > 0) {
        p.restart();
        return;
      }
      fail(err);
    }
  };
  p.restart = () => {
    p.tokens = [null];
    p.index = 0;
    p.next = null;
    return p.load(0);
  };
  return p;
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
