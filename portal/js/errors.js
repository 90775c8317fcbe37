/* The API's error details in plain sentences, one per field: the service names the field and gives
 * its reason in a developer's words (pydantic's "String should have at least 1 character", the
 * layer's 'amount must be a decimal string such as "12.50"'); the portal says what to do instead. */

import { capitalize } from "./dom.js";
import { exampleAmount, minorUnit } from "./format.js";

const AMOUNT_FIELDS = /(^|\.)(amount)$/;
const PRICE_FIELDS = /(^|\.)(unit_price)$/;
const QUANTITY_FIELDS = /(^|\.)(quantity)$/;
const PERCENT_FIELDS = /(^|\.)(percent|rate)$/;
const DATE_FIELDS = /(^|\.)(\w*date)$/;

function strip(message) {
  return String(message || "").replace(/\s*\(docs\/[^)]*\)\s*$/, "").replace(/^Value error, /, "").trim();
}

/** What to type in a number field: "Enter an amount like 2500.00", "Enter a percent like 25 or 12.5". */
function numberHint(field, label, currency, text) {
  const m = /more than (\d+) decimal places/.exec(text);
  if (AMOUNT_FIELDS.test(field)) {
    const minor = minorUnit(currency || "USD");
    const places = minor ? ` (at most ${minor} decimal${minor === 1 ? "" : "s"} in ${currency || "this currency"})`
      : ` (no decimals in ${currency})`;
    return `Enter an amount like ${exampleAmount(currency || "USD")}${places}, without thousands separators.`;
  }
  if (PRICE_FIELDS.test(field)) {
    return `${label}: enter a price like 100.00 (at most ${m ? m[1] : 4} decimals), without thousands separators.`;
  }
  if (QUANTITY_FIELDS.test(field)) {
    return `${label}: enter a quantity like 10 or 2.5 (at most ${m ? m[1] : 4} decimals).`;
  }
  if (PERCENT_FIELDS.test(field)) {
    return `${label}: enter a percent like 25 or 12.5 (at most ${m ? m[1] : 4} decimals, no % sign).`;
  }
  return null;
}

/**
 * One detail of a 422 as a sentence: ``field`` as the API names it, ``label`` what the form calls it,
 * ``currency`` the job's (for the example amount).
 */
export function plainDetail(field, message, label, currency) {
  const text = strip(message);
  const name = label || capitalize(String(field || "this field").replace(/_/g, " "));
  let m;
  if (/at least 1 character|Field required|is required|must not be empty|cannot be empty/i.test(text)) {
    return `${name} is required.`;
  }
  if ((m = /at most (\d+) characters?/.exec(text))) return `${name} is too long: at most ${m[1]} characters.`;
  if (/should match pattern/.test(text)) return `${name} may contain only letters, digits and - _ . (no spaces).`;
  if (/valid boolean/.test(text)) return `${name} must be yes or no.`;
  if (/decimal string|decimal places|valid string|valid number|valid decimal/.test(text)) {
    const hint = numberHint(field || "", name, currency, text);
    if (hint) return hint;
  }
  if ((m = /must be greater than or equal to (\S+)/.exec(text))) {
    return m[1] === "0" ? `${name} cannot be negative.` : `${name} must be at least ${m[1]}.`;
  }
  if ((m = /must be greater than (\S+)/.exec(text))) {
    return m[1] === "0" ? `${name} must be more than zero.` : `${name} must be more than ${m[1]}.`;
  }
  if ((m = /must be less than (\S+)/.exec(text))) {
    if (PERCENT_FIELDS.test(field || "") && m[1] === "101") return `${name} must be a percent from 0 to 100.`;
    return `${name} is too large: it must be less than ${m[1]}.`;
  }
  if ((m = /must be (?:less than or equal to|at most) (\S+)/.exec(text))) return `${name} can be at most ${m[1]}.`;
  if (/date/i.test(text) && DATE_FIELDS.test(field || "")) return `${name}: enter a date like 2026-12-01.`;
  if (/unsupported currency/.test(text)) return `${name}: the service does not bill in this currency (use a code like USD, EUR or JPY).`;
  if (/Extra inputs are not permitted/.test(text)) return `${name} is not accepted here.`;
  if ((m = /^(?:String|List) should have at least (\d+) items?/.exec(text))) return `${name} needs at least ${m[1]}.`;
  if ((m = /should have at most (\d+) items?/.exec(text))) return `${name}: at most ${m[1]} are allowed.`;
  if (/exactly one of amount or percent/.test(text)) return "Enter either an amount or a percent.";
  const own = String(field || "").split(".").pop().replace(/\[\d+\]$/, "");
  const rest = own && text.startsWith(own + " ") ? text.slice(own.length + 1) : text;
  return `${name}: ${rest}${/[.!?]$/.test(rest) ? "" : "."}`;
}

// The service's business refusals in plain words, where the message is not already (codes of docs/api.md).
export const CODE_MESSAGES = {
  NOT_FOUND: "It was not found: it may have been removed, or the address is wrong.",
  NOT_VOIDABLE: "A credit note cannot be voided.",
  CONFLICT: "Someone else changed this first. Reload and try again.",
  UNSUPPORTED_MEDIA_TYPE: "The portal sent the request in a form the service does not accept. Reload the page.",
  BAD_REQUEST: "The service could not read the request. Reload the page and try again.",
  NETWORK: "Could not reach the billing service. Check the connection (is the local stack running?) and try again.",
};

/** An error of a read (a page, a list): the service's message in plain words, for a banner. */
export function plainError(err) {
  if (err.code === "NETWORK") return CODE_MESSAGES.NETWORK;
  if (err.code === "UNAUTHORIZED") return "You are not signed in (the service needs a valid token).";
  if (err.code === "FORBIDDEN") return "You are not allowed to see this.";
  if (err.status >= 500) return `The billing service failed (${err.status}). Try again in a moment.`;
  if (err.code === "VALIDATION_ERROR" && err.details.length) {
    return err.details.map((d) => plainDetail(d.field, d.message)).join(" ");
  }
  return capitalize(String(err.message || CODE_MESSAGES[err.code] || "Something went wrong.").replace(/\.?$/, "."));
}
