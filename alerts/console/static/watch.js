// The broadcast watch page: polls the notice's live state each second and redraws the
// funnel, the sightings (list and map) and the timeline, without a reload.
import { drawTarget, makeMap } from "./map.js";

const L = window.L;
const POLL_MS = 1000;
const mapElement = document.getElementById("map");
const map = makeMap(mapElement);
drawTarget(map, mapElement);
const sightingLayer = L.layerGroup().addTo(map);
const funnel = document.getElementById("funnel");
const byId = (id) => document.getElementById(id);

function listItems(list, lines) {
  list.replaceChildren(...lines.map((line) => {
    const item = document.createElement("li");
    item.textContent = line;
    return item;
  }));
}

function render(live) {
  const { stats } = live;
  const sent = stats.by_status.sent ?? 0;
  const failed = stats.by_status.failed ?? 0;
  byId("targeted").textContent = stats.targeted;
  byId("sent").textContent = sent;
  byId("retrying").textContent = stats.retrying;
  byId("failed").textContent = failed;
  const reasons = Object.entries(stats.failed_by_reason);
  byId("failed-by-reason").textContent = reasons.length ? reasons.map(([r, n]) => `${r}: ${n}`).join(", ") : "none";
  byId("first-sent").textContent = `${stats.first_sent_after_s ?? "–"} s`;
  byId("last-sent").textContent = `${stats.last_sent_after_s ?? "–"} s`;
  byId("complete").textContent = stats.complete ? "yes" : "not yet";
  const progress = byId("progress");
  progress.max = Math.max(stats.targeted, 1);
  progress.value = sent + failed;
  const status = byId("status").firstElementChild;
  status.textContent = live.status;
  status.className = `tag status-${live.status}`;
  byId("sighting-count").textContent = live.sightings.length;
  listItems(byId("sightings"), live.sightings.map((s) => `${s.seen_at.slice(11, 16)}: ${s.text}`));
  listItems(byId("timeline"), live.timeline.map((e) => `${e.at.slice(0, 19).replace("T", " ")} ${e.action} (${e.actor})`));
  sightingLayer.clearLayers();
  for (const s of live.sightings) {
    L.circleMarker([s.lat, s.lon], {
      radius: 6, className: "sighting", color: "#4c2c92", fillColor: "#912b88", fillOpacity: 0.9,
    }).bindTooltip(s.text).addTo(sightingLayer);
  }
  funnel.dataset.updatedAt = String(Date.now());
}

async function poll() {
  try {
    const response = await fetch(funnel.dataset.liveUrl);
    if (response.ok) render(await response.json());
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
