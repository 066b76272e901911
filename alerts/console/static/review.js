// The review page: the radius slider (logarithmic, 0.1-500 km) asks the server for the reach
// and the cover cells of its value; the newest answer wins, older requests are aborted.
import { cellLayer, drawTarget, makeMap } from "./map.js";

const MIN_KM = 0.1;
const MAX_KM = 500;
const STEPS = 1000;

export const kmAt = (position) => Number((MIN_KM * (MAX_KM / MIN_KM) ** (position / STEPS)).toPrecision(2));
export const positionOf = (km) => Math.round((STEPS * Math.log(km / MIN_KM)) / Math.log(MAX_KM / MIN_KM));

const mapElement = document.getElementById("map");
const map = makeMap(mapElement);
const moveCircle = drawTarget(map, mapElement);
const showCells = cellLayer(map);
const slider = document.getElementById("radius");
const valueOutput = document.getElementById("radius-value");
const approveRadius = document.getElementById("approve-radius");
const reach = document.getElementById("reach");
const count = document.getElementById("reach-count");

function reachText(data) {
  if (data.fewer_than != null) return `fewer than ${data.fewer_than}`;
  return data.devices.toLocaleString("en");
}

let inFlight = null;

async function update(km, startedAt) {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  const query = km == null ? "" : `?radius_km=${km}`;
  reach.setAttribute("aria-busy", "true");
  let data;
  try {
    const response = await fetch(mapElement.dataset.coverUrl + query, { signal: controller.signal });
    if (!response.ok) throw new Error(`reach request failed: ${response.status}`);
    data = await response.json();
  } catch (error) {
    if (error.name === "AbortError") return;
    throw error;
  }
  count.textContent = reachText(data);
  showCells(data.inside, data.boundary);
  reach.dataset.radiusKm = data.radius_km ?? "";
  reach.dataset.cells = `${data.inside.length}/${data.boundary.length}`;
  reach.dataset.latencyMs = (performance.now() - startedAt).toFixed(1);
  reach.removeAttribute("aria-busy");
}

// The reach at standard radii and at each expansion step; a step's ring adds its reach less
// the one before it (the notice's own radius first).
async function showStandardReach() {
  const table = document.getElementById("standard-reach");
  if (!table) return;
  const response = await fetch(table.dataset.url);
  if (!response.ok) throw new Error(`reach request failed: ${response.status}`);
  const { standard, own, steps } = await response.json();
  table.querySelectorAll("tbody td").forEach((cell, i) => {
    cell.textContent = reachText(standard[i]);
  });
  const rows = document.querySelectorAll("#expansion tbody tr");
  let before = own[0]?.fewer_than == null ? own[0]?.devices : null;
  rows.forEach((row, i) => {
    const [, , reachCell, ringCell] = row.children;
    reachCell.textContent = reachText(steps[i]);
    ringCell.textContent = before == null || steps[i].fewer_than != null ? "–" : String(steps[i].devices - before);
    before = steps[i].fewer_than == null ? steps[i].devices : null;
  });
}

showStandardReach();

if (slider) {
  const initial = Number(mapElement.dataset.radiusKm);
  slider.value = String(positionOf(initial));
  const show = (km) => {
    valueOutput.textContent = `${km} km`;
    slider.setAttribute("aria-valuetext", `${km} kilometres`);
    if (approveRadius) approveRadius.value = String(km);
  };
  show(initial);
  slider.addEventListener("input", () => {
    const startedAt = performance.now();
    const km = kmAt(Number(slider.value));
    show(km);
    moveCircle(km, false);
    update(km, startedAt);
  });
  slider.addEventListener("change", () => moveCircle(kmAt(Number(slider.value)), true));
  update(initial, performance.now());
} else {
  update(null, performance.now());
}
