// Drawing a target area on the review map: while drawing, a click on the map (or the "Add
// corner at map centre" button, for the keyboard) adds a corner; "Finish area" closes the
// polygon and "Clear" removes it. The caller hears of each change with the polygon as GeoJSON
// areas (null when there is none yet): once it has three corners, and whether it is finished.
const L = window.L;

const DRAWN_STYLE = { color: "#4c2c92", weight: 3, fillColor: "#4c2c92", fillOpacity: 0.08, interactive: false };
// Corners to 5 decimals (about a metre): the areas sent and stored are the ones shown.
const round = (x) => Math.round(x * 1e5) / 1e5;

// The polygon as the API's areas: one GeoJSON Polygon whose ring ends at its first corner.
export function areasOf(corners) {
  const ring = corners.map(({ lat, lng }) => [round(lng), round(lat)]);
  return [{ type: "polygon", geometry: { type: "Polygon", coordinates: [[...ring, ring[0]]] } }];
}

export function drawArea(map, buttons, onChange) {
  const { start, centre, finish, clear, status } = buttons;
  const shape = L.polygon([], DRAWN_STYLE).addTo(map);
  let corners = [];
  let drawing = false;

  const changed = () => {
    shape.setLatLngs(corners);
    const closed = !drawing && corners.length >= 3;
    start.disabled = drawing;
    centre.disabled = !drawing;
    finish.disabled = !drawing || corners.length < 3;
    clear.disabled = corners.length === 0 && !drawing;
    map.getContainer().classList.toggle("drawing", drawing);
    if (drawing) {
      status.textContent = corners.length < 3
        ? `Drawing: ${corners.length} corner(s); add at least 3.`
        : `Drawing: ${corners.length} corners. Finish the area to approve with it.`;
    } else {
      status.textContent = closed ? `Area drawn with ${corners.length} corners: approving targets it instead of the radius.` : "";
    }
    onChange(corners.length >= 3 ? areasOf(corners) : null, closed);
  };

  const add = (latlng) => {
    corners = [...corners, latlng];
    changed();
  };

  map.on("click", (event) => {
    if (drawing) add(event.latlng);
  });
  start.addEventListener("click", () => {
    corners = [];
    drawing = true;
    changed();
  });
  centre.addEventListener("click", () => add(map.getCenter()));
  finish.addEventListener("click", () => {
    drawing = false;
    changed();
    start.focus();
  });
  clear.addEventListener("click", () => {
    corners = [];
    drawing = false;
    changed();
    start.focus();
  });
}
