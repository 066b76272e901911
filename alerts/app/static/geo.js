// Great-circle distance on h3's sphere, as hexcast's own geometry measures it.
const EARTH_RADIUS_M = 6371007.180918475;

export function distanceM(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2
    + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

// Distances as the user's locale writes them: metres below 1 km, else km to 2 decimals.
export function formatDistance(metres, locale) {
  if (metres < 1000) {
    return new Intl.NumberFormat(locale, { style: "unit", unit: "meter", maximumFractionDigits: 0 })
      .format(metres);
  }
  return new Intl.NumberFormat(locale, {
    style: "unit", unit: "kilometer", minimumFractionDigits: 2, maximumFractionDigits: 2,
  }).format(metres / 1000);
}

// "3 hours ago", in the user's language.
export function formatAgo(then, now, locale) {
  const seconds = Math.round((then.getTime() - now.getTime()) / 1000);
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}
