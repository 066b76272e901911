// The reference in-app client: registers this browser as a device, reports its location
// with the user's consent, and opens an alert from its deep link (/app/#/notices/<id>) as
// the pop-up an app shows. Every call is hexcast's public API; no library, no build step.
import { distanceM, formatAgo, formatDistance } from "./geo.js";

const locale = navigator.language || "en";
const $ = (id) => document.getElementById(id);
const store = window.localStorage;
let position = null; // { lat, lon, accuracy_m } once the user shared it

function show(id, visible = true) { $(id).hidden = !visible; }

function fail(message) {
  $("error").textContent = message;
  show("error");
}

async function api(method, path, body) {
  const headers = { "content-type": "application/json" };
  const key = store.getItem("hexcast.device_key");
  if (key) headers["X-Device-Key"] = key;
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

// A web client has no FCM token of its own here; it stands in with a random one, as the
// demo of the contract (a real app registers the token the FCM SDK gives it).
function demoToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function register() {
  const token = store.getItem("hexcast.token") || demoToken();
  const device = await api("POST", "/v1/devices", { fcm_token: token, platform: "web", locale });
  store.setItem("hexcast.token", token);
  store.setItem("hexcast.device_key", device.device_key);
  await refreshDevice();
}

async function refreshDevice() {
  if (!store.getItem("hexcast.device_key")) return;
  const device = await api("GET", "/v1/devices/me").catch(() => null);
  if (device === null) {
    // The key no longer works (the device was erased): start again from registration.
    store.removeItem("hexcast.device_key");
    return;
  }
  $("device-status").textContent = device.alerts_paused
    ? "Alerts are paused on this device."
    : "Alerts are on for this device.";
  $("device-status").dataset.deviceId = device.device_id;
  $("pause").textContent = device.alerts_paused ? "Resume alerts" : "Pause alerts";
  $("pause").dataset.paused = String(device.alerts_paused);
  show("register", false);
  show("locate");
  show("controls");
}

function currentPosition() {
  return new Promise((resolve, reject) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude,
        accuracy_m: Math.min(p.coords.accuracy, 100000) }),
      (error) => reject(new Error(`location: ${error.message}`)),
      { enableHighAccuracy: true, timeout: 10000 },
    );
  });
}

async function locate() {
  position = await currentPosition();
  await api("PUT", "/v1/devices/me/location", { ...position, at: new Date().toISOString() });
  $("location-status").textContent = "Location shared: you will get alerts near you.";
  show("location-status");
}

async function togglePause() {
  const paused = $("pause").dataset.paused === "true";
  await api("PATCH", "/v1/devices/me", { alerts_paused: !paused });
  await refreshDevice();
}

async function erase() {
  await api("DELETE", "/v1/devices/me");
  store.removeItem("hexcast.device_key");
  store.removeItem("hexcast.token");
  $("device-status").textContent = "This device was erased.";
  ["locate", "controls", "location-status"].forEach((id) => show(id, false));
  show("register");
}

// The notice's own text in the user's language if it has one (exact tag, then language).
function textFor(texts) {
  const tags = Object.keys(texts);
  const exact = tags.find((t) => t.toLowerCase() === locale.toLowerCase());
  const language = locale.split("-")[0].toLowerCase();
  const same = tags.find((t) => t.split("-")[0].toLowerCase() === language);
  return texts[exact || same] || {};
}

const BANNERS = { Test: "TEST — not a real alert", Exercise: "EXERCISE — not a real alert" };
const ENDED = {
  found: ["Found, thank you", "The person has been found. Thank you for looking."],
  cancelled: ["This alert was cancelled", "The search has ended."],
  expired: ["This alert has ended", "The search has ended."],
};

async function openNotice(noticeId) {
  const response = await fetch(`/v1/feed/notices/${noticeId}`);
  if (!response.ok) throw new Error(`this alert is not available (${response.status})`);
  const notice = await response.json();
  show("popup");
  $("popup").dataset.noticeId = notice.id;
  const banner = BANNERS[notice.cap_status];
  $("banner").textContent = banner || "";
  show("banner", Boolean(banner));
  if (notice.status !== "active") {
    const [title, text] = ENDED[notice.status];
    $("ended-title").textContent = title;
    $("ended-text").textContent = text;
    show("ended");
    show("person", false);
    return;
  }
  show("ended", false);
  show("person");
  renderPerson(notice);
}

function renderPerson(notice) {
  const own = textFor(notice.texts);
  const person = notice.person;
  const rightToLeft = ["ar", "he", "fa", "ur"].includes(locale.split("-")[0]);
  document.documentElement.dir = rightToLeft ? "rtl" : "ltr";
  $("headline").textContent = own.headline || `Missing: ${person.name}`;
  $("who").textContent = person.age === null ? person.name : `${person.name}, ${person.age}`;
  $("description").textContent = own.description || person.description;
  if (person.photo_url) {
    $("photo").src = person.photo_url;
    $("photo").alt = person.name;
    show("photo");
  }
  $("place").textContent = notice.last_seen.place;
  $("ago").textContent = formatAgo(new Date(notice.last_seen.at), new Date(), locale);
  $("contact").textContent = notice.contact;
  const digits = notice.contact.match(/\+?[0-9][0-9 ()-]{1,}[0-9]/);
  $("call").href = digits ? `tel:${digits[0].replace(/[ ()-]/g, "")}` : "#";
  if (position) {
    const metres = distanceM(position, notice.last_seen);
    $("distance").textContent = formatDistance(metres, locale);
    $("distance").dataset.metres = String(Math.round(metres));
  }
}

async function share() {
  const url = window.location.href;
  if (navigator.share) {
    await navigator.share({ title: $("headline").textContent, url });
  } else {
    await navigator.clipboard.writeText(url);
    $("share").textContent = "Link copied";
  }
}

async function sendSighting(event) {
  event.preventDefault();
  position = await currentPosition();
  const noticeId = $("popup").dataset.noticeId;
  await api("POST", `/v1/notices/${noticeId}/sightings`, {
    seen_at: new Date().toISOString(),
    lat: position.lat,
    lon: position.lon,
    accuracy_m: position.accuracy_m,
    text: $("note").value,
  });
  show("sighting", false);
  show("sent");
}

function route() {
  const match = window.location.hash.match(/^#\/notices\/([0-9a-f-]{36})$/);
  if (match) return openNotice(match[1]);
  show("popup", false);
  return null;
}

function guarded(action) {
  return (event) => Promise.resolve(action(event)).catch((error) => fail(error.message));
}

async function start() {
  $("register").addEventListener("click", guarded(register));
  $("locate").addEventListener("click", guarded(locate));
  $("pause").addEventListener("click", guarded(togglePause));
  $("erase").addEventListener("click", guarded(erase));
  $("share").addEventListener("click", guarded(share));
  $("saw").addEventListener("click", () => { show("sighting"); $("note").focus(); });
  $("sighting").addEventListener("submit", guarded(sendSighting));
  window.addEventListener("hashchange", guarded(route));
  await refreshDevice();
  if (store.getItem("hexcast.device_key")) {
    // With consent given before, know where the phone is to show distances.
    position = await currentPosition().catch(() => null);
  }
  document.body.dataset.ready = "true";
  await route();
}

start().catch((error) => fail(error.message));
