/* Settings: the top bar's summary of the service's settings. */

import { api } from "./api.js";
import { $ } from "./dom.js";

export async function loadSettings() {
  try {
    const settings = await api("GET", "/settings");
    $("#settings-summary").textContent =
      `Auto-invoice on shipment: ${settings.auto_invoice_on_shipment ? "on" : "off"}`;
  } catch {
    $("#settings-summary").textContent = "";
  }
}
