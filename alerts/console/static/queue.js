// The queue refreshes its lists every few seconds: new notices, and the live sent/targeted
// and sightings of broadcasts, without a reload. The server's HTML replaces the lists.
const REFRESH_MS = 5000;

async function refresh() {
  try {
    const response = await fetch(window.location.href);
    if (response.ok && !response.redirected) {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("queue-lists");
      if (fresh) document.getElementById("queue-lists").replaceWith(document.adoptNode(fresh));
    }
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

setTimeout(refresh, REFRESH_MS);
