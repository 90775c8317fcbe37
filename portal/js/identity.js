/* Who is signed in, as the portal sees it: only to show the actions the service would allow (R20).
 * The service decides: a hidden button is a courtesy, and a refusal (403) is shown like any error.
 *
 * The stored token (localStorage "billing.token", sent by api.js) is read, not verified: its
 * cognito:groups and username claims. Without a token the local stack's local administrator
 * (group billing-admins; docs/local.md, Identity). */

import { $, h } from "./dom.js";

export const ADMINS = "billing-admins";
export const CLERKS = "billing-clerks";

/** A JWT's payload, or null when the token is not a readable JWT. */
function payload(token) {
  const part = token.trim().replace(/^bearer\s+/i, "").split(".")[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = JSON.parse(new TextDecoder().decode(bytes));
    return data && typeof data === "object" && !Array.isArray(data) ? data : null;
  } catch {
    return null;
  }
}

/** The groups claim as the service reads it: a JSON list, or a string "[a b]" (split on whitespace). */
function groupsOf(claim) {
  if (Array.isArray(claim)) return claim.map(String);
  const text = typeof claim === "string" ? claim.trim() : "";
  if (!text.startsWith("[") || !text.endsWith("]")) return [];
  return text.slice(1, -1).split(/\s+/).filter(Boolean);
}

/** {username, groups, local}: the token's claims, or the local administrator without a token. */
export function currentUser() {
  const token = localStorage.getItem("billing.token");
  if (!token) return { username: "local-admin", groups: [ADMINS], local: true };
  const claims = payload(token) || {};
  const username = claims["cognito:username"] || claims.username || claims.sub || "unknown user";
  return { username: String(username), groups: groupsOf(claims["cognito:groups"]), local: false };
}

/** Void (R14) and PUT /settings: group billing-admins. */
export function isAdmin(user = currentUser()) {
  return user.groups.includes(ADMINS);
}

/** Register, bill, finalize, change orders: billing-clerks or billing-admins. */
export function isClerk(user = currentUser()) {
  return isAdmin(user) || user.groups.includes(CLERKS);
}

export function roleOf(user = currentUser()) {
  if (isAdmin(user)) return "admin";
  return isClerk(user) ? "clerk" : "reader";
}

/** The top bar's "Signed in as ...". */
export function renderUser() {
  const user = currentUser();
  const el = $("#user-summary");
  el.replaceChildren(h("span", { class: "visually-hidden" }, "Signed in as "), user.username,
    h("span", { class: "user-role" }, roleOf(user)));
  el.title = user.local
    ? "No token: the local stack's administrator"
    : `Groups: ${user.groups.join(", ") || "none"} (from the stored token)`;
  el.dataset.role = roleOf(user);
}
