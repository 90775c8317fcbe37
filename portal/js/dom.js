/* DOM helpers shared by every view: element lookup and building, the toast and the banner. */

export const $ = (selector, root = document) => root.querySelector(selector);

/** Build an element: h("td", {class: "num"}, "375.00", childNode...). Text is never parsed as HTML. */
export function h(tag, attrs, ...children) {
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

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function capitalize(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

let toastTimer = null;
export function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

export function showBanner(text) {
  const el = $("#banner");
  el.textContent = text || "";
  el.hidden = !text;
}

// The loading line above the page: shown while any read is under way for more than a moment.
let loadingCount = 0;
let loadingTimer = null;

/** Await ``promise`` with "Loading…" shown (after 120 ms, so that a fast read does not flash it). */
export async function withLoading(promise, text = "Loading…") {
  loadingCount++;
  $("#loading-text").textContent = text;
  if (loadingCount === 1) {
    clearTimeout(loadingTimer);
    loadingTimer = setTimeout(() => {
      $("#loading").hidden = loadingCount === 0;
      document.querySelector("main").setAttribute("aria-busy", loadingCount ? "true" : "false");
    }, 120);
  }
  try {
    return await promise;
  } finally {
    loadingCount--;
    if (loadingCount === 0) {
      clearTimeout(loadingTimer);
      $("#loading").hidden = true;
      document.querySelector("main").setAttribute("aria-busy", "false");
    }
  }
}
