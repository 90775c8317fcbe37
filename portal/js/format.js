/* Money and status display. Amounts are the API's decimal strings, formatted as strings: thousands
 * separators and the currency's decimals, never through a float. */

import { h } from "./dom.js";

// ISO 4217 minor units (as layers/billing/billing/money.py): 2 unless listed.
const MINOR_UNITS = { JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, KWD: 3, BHD: 3, JOD: 3, OMR: 3, TND: 3 };

export function minorUnit(currency) {
  return Object.hasOwn(MINOR_UNITS, currency) ? MINOR_UNITS[currency] : 2;
}

/** "-12345.5" -> {sign: "-", int: "12345", frac: "5"}; null for anything that is not a plain decimal. */
function parts(value) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(value).trim());
  return m ? { sign: m[1], int: m[2].replace(/^0+(?=\d)/, ""), frac: m[3] || "" } : null;
}

function group(int) {
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A decimal string with thousands separators and exactly ``decimals`` places when given (padded with
 * zeros, never rounded: extra digits are kept), as text: "2500" -> "2,500.00", "-33333" -> "-33,333".
 */
export function formatDecimal(value, decimals) {
  const p = parts(value);
  if (!p) return String(value ?? "—");
  let frac = p.frac;
  if (decimals !== undefined && frac.length < decimals) frac = frac.padEnd(decimals, "0");
  const zero = /^0*$/.test(p.int + frac);
  return `${zero ? "" : p.sign}${group(p.int)}${frac ? "." + frac : ""}`;
}

/** An amount of ``currency``: "2,500.00", JPY "33,333", "-450.00". */
export function amount(value, currency) {
  if (value === null || value === undefined || value === "") return "—";
  return formatDecimal(value, minorUnit(currency));
}

/** An amount with its currency, as text: "2,500.00 USD" (toasts, hints, dialogs). */
export function amountText(value, currency) {
  return `${amount(value, currency)} ${currency}`;
}

/**
 * A unit price: at least the currency's decimals, up to 4 when the price has them (trailing zeros
 * beyond the minor unit dropped): "100" -> "100.00", "12.3450" -> "12.345", JPY "33333.3333".
 */
export function price(value, currency) {
  const p = parts(value);
  if (!p) return String(value ?? "—");
  const minor = minorUnit(currency);
  let frac = p.frac.replace(/0+$/, "");   // at most 4 (R10): nothing is cut
  if (frac.length < minor) frac = frac.padEnd(minor, "0");
  return formatDecimal(`${p.sign}${p.int}${frac ? "." + frac : ""}`);
}

/** A quantity: as the API has it, with thousands separators ("1,200", "2.5"). */
export function quantity(value) {
  return formatDecimal(value);
}

/** Money with its currency, as an element. */
export function money(value, currency) {
  if (value === null || value === undefined) return "—";
  return h("span", { class: "money" }, amount(value, currency), h("span", { class: "cur" }, " " + currency));
}

/** An example amount for ``currency`` to type (no separators: the API reads plain decimals): "2500.00", JPY "2500". */
export function exampleAmount(currency) {
  const minor = minorUnit(currency);
  return minor ? `2500.${"0".repeat(minor)}` : "2500";
}

/** "0.00" in ``currency``'s decimals, or with as many decimals as ``sample`` has when no currency is known. */
export function zeroLike(sample, currency) {
  const decimals = currency ? minorUnit(currency) : (String(sample).split(".")[1] || "").length;
  return decimals ? `0.${"0".repeat(decimals)}` : "0";
}

export function isZero(value) {
  return /^-?0*(\.0*)?$/.test(String(value));
}

/** A decimal string with its sign swapped, as text (no arithmetic). */
export function negated(value) {
  const text = String(value);
  if (isZero(text)) return text.replace(/^-/, "");
  return text.startsWith("-") ? text.slice(1) : `-${text}`;
}

/** A share of the total, for drawing the progress bar only (never used for money). */
export function share(part, total) {
  const t = Number(total);
  const p = Number(part);
  if (!(t > 0) || !(p > 0)) return 0;
  return Math.min(100, (p / t) * 100);
}

export function badge(status, extra) {
  const label = String(status || "").replace(/_/g, " ");
  return h("span", { class: `badge badge-${status}${extra ? " " + extra : ""}` }, label);
}

/** R16: a job line's tax as captured on the line ("VAT20 20%"), or "—" for an untaxed line. */
export function lineTax(line) {
  if (!line.tax_code) return "—";
  return h("span", { class: "tax-code", title: `Tax code ${line.tax_code} at the ${line.tax_rate}% the line captured` },
    h("span", { class: "mono" }, line.tax_code), ` ${line.tax_rate}%`);
}

/** R14: an open job whose final invoice a credit note voided. */
export function isReopened(job) {
  return job.status === "open" && Number(job.reopen_count || 0) > 0;
}

/** An ISO timestamp as "2026-12-01 06:00:03 UTC". */
export function when(iso) {
  return iso ? `${String(iso).replace("T", " ").replace(/\.\d+/, "").replace(/Z$/, "")} UTC` : "—";
}
