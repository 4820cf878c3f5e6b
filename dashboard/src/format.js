// How figures read: exact where it matters, abbreviated where it helps, dates in the project's zone.

const exact = new Intl.NumberFormat("en-US");
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

export const DASH = "–";

export function integer(value) {
  return value === null || value === undefined ? DASH : exact.format(Math.round(value));
}

export function short(value) {
  if (value === null || value === undefined) return DASH;
  return Math.abs(value) < 10_000 ? exact.format(Math.round(value * 100) / 100) : compact.format(value);
}

export function percent(ratio, digits = 1) {
  if (ratio === null || ratio === undefined) return DASH;
  return (ratio * 100).toFixed(ratio !== 0 && Math.abs(ratio) < 0.001 ? 3 : digits) + " %";
}

export function ms(value) {
  if (value === null || value === undefined) return DASH;
  if (value >= 10_000) return (value / 1000).toFixed(1) + " s";
  return (value >= 100 ? Math.round(value) : Math.round(value * 10) / 10) + " ms";
}

export function bytes(value) {
  if (value === null || value === undefined) return DASH;
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let size = value;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return (unit === 0 ? size : size.toFixed(size >= 100 ? 0 : 1)) + " " + units[unit];
}

export function money(value, currency = "USD") {
  if (value === null || value === undefined) return DASH;
  const digits = value !== 0 && Math.abs(value) < 1 ? 4 : 2;
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency, maximumFractionDigits: digits }).format(value);
  } catch {
    return value.toFixed(digits) + " " + currency;
  }
}

export function rate(perSecond) {
  if (perSecond === null || perSecond === undefined) return DASH;
  if (perSecond >= 1) return short(perSecond) + " req/s";
  if (perSecond * 60 >= 1) return short(perSecond * 60) + " req/min";
  return short(perSecond * 3600) + " req/h";
}

/** "+12.5 %", "−3 %", or "new" when the previous window had none. */
export function change(ratio) {
  if (ratio === null || ratio === undefined) return null;
  const sign = ratio > 0 ? "+" : ratio < 0 ? "−" : "±";
  return sign + Math.abs(ratio * 100).toFixed(Math.abs(ratio) < 0.1 ? 1 : 0) + " %";
}

const formatters = new Map();
function formatter(timeZone, options) {
  const key = timeZone + JSON.stringify(options);
  if (!formatters.has(key)) {
    try {
      formatters.set(key, new Intl.DateTimeFormat("en-GB", { timeZone, ...options }));
    } catch {
      formatters.set(key, new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", ...options }));
    }
  }
  return formatters.get(key);
}

export function dateTime(iso, timeZone = "UTC") {
  if (!iso) return DASH;
  const options = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  return formatter(timeZone, options).format(new Date(iso));
}

export function dateTimeSeconds(iso, timeZone = "UTC") {
  if (!iso) return DASH;
  const options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" };
  return formatter(timeZone, options).format(new Date(iso));
}

export function day(iso, timeZone = "UTC") {
  if (!iso) return DASH;
  return formatter(timeZone, { weekday: "short", month: "short", day: "numeric" }).format(new Date(iso));
}

/** Minutes east of UTC of a zone at an instant. */
export function offsetMinutes(timeZone, instant) {
  const parts = formatter(timeZone, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(instant);
  const value = Object.fromEntries(parts.map((p) => [p.type, Number(p.value)]));
  const asUtc = Date.UTC(value.year, value.month - 1, value.day, value.hour, value.minute, value.second);
  return Math.round((asUtc - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
}

/** A wall-clock "YYYY-MM-DDTHH:MM" in a zone, as a UTC ISO string. */
export function zonedToUtc(local, timeZone) {
  const guess = new Date(local + "Z");
  if (Number.isNaN(guess.getTime())) return null;
  let instant = new Date(guess.getTime() - offsetMinutes(timeZone, guess) * 60_000);
  instant = new Date(guess.getTime() - offsetMinutes(timeZone, instant) * 60_000); // across a DST change
  return instant.toISOString().replace(".000Z", "Z");
}

/** A UTC instant as the "YYYY-MM-DDTHH:MM" a datetime-local input shows, in a zone. */
export function utcToZoned(iso, timeZone) {
  const instant = new Date(iso);
  const shifted = new Date(instant.getTime() + offsetMinutes(timeZone, instant) * 60_000);
  return shifted.toISOString().slice(0, 16);
}
