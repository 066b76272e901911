// The review page: the radius slider (logarithmic, 0.1-500 km) asks the server for the reach
// and the cover cells of its value; the newest answer wins, older requests are aborted.
import { drawArea } from "./draw.js";
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
const approveAreas = document.getElementById("approve-areas");
const drawStatus = document.getElementById("draw-status");
const radiusQuery = (km) => (km == null ? "" : `?radius_km=${km}`);

function reachText(data) {
  if (data.fewer_than != null) return `fewer than ${data.fewer_than}`;
  return data.devices.toLocaleString("en");
}

let inFlight = null;

// The reach and cells of a radius (`?radius_km=`), of drawn areas (`?areas=`), or of the
// notice's own target (no query).
async function update(query, startedAt) {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  reach.setAttribute("aria-busy", "true");
  let response;
  let data;
  try {
    response = await fetch(mapElement.dataset.coverUrl + query, { signal: controller.signal });
    data = await response.json();
  } catch (error) {
    if (error.name === "AbortError") return;
    throw error;
  }
  reach.removeAttribute("aria-busy");
  if (response.status === 422 || response.status === 429) {
    // A drawn area that cannot be targeted, or too many counts of drawn areas in a minute.
    count.textContent = "not counted";
    reach.dataset.refused = String(data.detail);
    if (drawStatus) drawStatus.textContent = `Not counted: ${data.detail}`;
    showCells([], []);
    return;
  }
  if (!response.ok) throw new Error(`reach request failed: ${response.status}`);
  delete reach.dataset.refused;
  count.textContent = reachText(data);
  showCells(data.inside, data.boundary);
  reach.dataset.radiusKm = data.radius_km ?? "";
  reach.dataset.cells = `${data.inside.length}/${data.boundary.length}`;
  reach.dataset.latencyMs = (performance.now() - startedAt).toFixed(1);
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

let radiusKm = null;

if (slider) {
  const initial = Number(mapElement.dataset.radiusKm);
  radiusKm = initial;
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
    radiusKm = km;
    show(km);
    moveCircle(km, false);
    update(radiusQuery(km), startedAt);
  });
  slider.addEventListener("change", () => moveCircle(kmAt(Number(slider.value)), true));
}
update(radiusQuery(radiusKm), performance.now());

// A drawn area replaces the radius: its reach and cells show while it is drawn, the slider
// rests, and once it is finished the approval sends it; cleared, the radius is back.
const drawStart = document.getElementById("draw-start");
if (drawStart) {
  const buttons = {
    start: drawStart,
    centre: document.getElementById("draw-centre"),
    finish: document.getElementById("draw-finish"),
    clear: document.getElementById("draw-clear"),
    status: drawStatus,
  };
  drawArea(map, buttons, (areas, finished) => {
    const json = areas && JSON.stringify(areas);
    approveAreas.value = finished ? json : "";
    if (slider) slider.disabled = Boolean(areas);
    if (approveRadius) approveRadius.disabled = finished;
    // Finishing leaves the polygon as it was: no second count against the preview limit.
    if ((json ?? "") === (reach.dataset.drawn ?? "")) return;
    reach.dataset.drawn = json ?? "";
    update(json ? `?areas=${encodeURIComponent(json)}` : radiusQuery(radiusKm), performance.now());
  });
}
