/* Money and status display. Money is shown exactly as the API returns it (decimal strings). */

import { h } from "./dom.js";

/** Money exactly as returned by the API, with its currency. */
export function money(value, currency) {
  if (value === null || value === undefined) return "—";
  return h("span", { class: "money" }, value, h("span", { class: "cur" }, " " + currency));
}

/** "0.00" with as many decimals as ``amount`` has (the currency's minor unit): JPY "0", KWD "0.000". */
export function zeroLike(amount) {
  const decimals = (String(amount).split(".")[1] || "").length;
  return decimals ? `0.${"0".repeat(decimals)}` : "0";
}

export function isZero(value) {
  return /^-?0*(\.0*)?$/.test(String(value));
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
