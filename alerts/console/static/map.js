// The console's map: Leaflet (window.L) over a tile layer when HEXCAST_CONSOLE_TILE_URL is
// set, else over the offline outline of Natural Earth's countries (world-atlas, 1:110m).
const L = window.L;

const OUTLINE_URL = "/console/vendor/world-atlas/countries-110m.json";

async function drawOutline(map) {
  const topology = await (await fetch(OUTLINE_URL)).json();
  const { feature, mesh } = window.topojson;
  L.geoJSON(feature(topology, topology.objects.land), {
    interactive: false,
    style: { color: "#5b6b5b", weight: 1, fillColor: "#f1f3ee", fillOpacity: 1 },
  }).addTo(map).bringToBack();
  L.geoJSON(mesh(topology, topology.objects.countries, (a, b) => a !== b), {
    interactive: false,
    style: { color: "#8a8a8a", weight: 0.8, dashArray: "4 3" },
  }).addTo(map);
}

export function makeMap(element) {
  const { lat, lon, tileUrl, tileAttribution } = element.dataset;
  const map = L.map(element, { zoomSnap: 0.25 }).setView([Number(lat), Number(lon)], 11);
  if (tileUrl) {
    L.tileLayer(tileUrl, { attribution: tileAttribution, maxZoom: 19 }).addTo(map);
  } else {
    map.attributionControl.addAttribution("Outline: Natural Earth");
    drawOutline(map);
  }
  L.circleMarker([Number(lat), Number(lon)], {
    radius: 7, color: "#0b0c0c", weight: 2, fillColor: "#d4351c", fillOpacity: 1,
  }).bindTooltip("Last seen").addTo(map);
  return map;
}

const TARGET_STYLE = { color: "#1d70b8", weight: 2, dashArray: "6 4", fill: false, interactive: false };

// The target as the notice has it: drawn areas, or a circle round the last-seen point that
// follows the radius; returns a function that moves the circle.
export function drawTarget(map, element) {
  const areas = JSON.parse(element.dataset.areas || "[]");
  if (areas.length) {
    const group = L.featureGroup();
    for (const area of areas) {
      if (area.type === "circle") {
        L.circle([area.lat, area.lon], { ...TARGET_STYLE, radius: area.radius_km * 1000 }).addTo(group);
      } else {
        L.geoJSON(area.geometry, { style: TARGET_STYLE }).addTo(group);
      }
    }
    group.addTo(map);
    map.fitBounds(group.getBounds(), { padding: [20, 20] });
    return () => {};
  }
  const circle = L.circle([Number(element.dataset.lat), Number(element.dataset.lon)], {
    ...TARGET_STYLE, radius: Number(element.dataset.radiusKm || 1) * 1000,
  }).addTo(map);
  map.fitBounds(circle.getBounds(), { padding: [20, 20] });
  return (km, fit) => {
    circle.setRadius(km * 1000);
    if (fit) map.fitBounds(circle.getBounds(), { padding: [20, 20] });
  };
}

// The H3 cells of the cover, each class as one multi-polygon path, styled apart.
export function cellLayer(map) {
  const group = L.layerGroup().addTo(map);
  return (inside, boundary) => {
    group.clearLayers();
    if (inside.length) {
      L.polygon(inside.map((ring) => [ring]), {
        className: "cells-inside", color: "#00703c", weight: 0.6, fillColor: "#00703c", fillOpacity: 0.25, interactive: false,
      }).addTo(group);
    }
    if (boundary.length) {
      L.polygon(boundary.map((ring) => [ring]), {
        className: "cells-boundary", color: "#f47738", weight: 0.6, fillColor: "#f47738", fillOpacity: 0.2, dashArray: "2 2", interactive: false,
      }).addTo(group);
    }
  };
}
