// The public API, as the dashboard uses it: one fetch wrapper, the error envelope turned into
// ApiError, and the session. The access token lives in memory only; the refresh token, which
// rotates on every use, in sessionStorage (gone when the tab closes).

const REFRESH_KEY = "apimeter.refresh";

let config = { api_url: "", live_url: "" };
let access = null; // {token, expiresAt}
let refreshing = null;
let refreshTimer = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message, details = null, requestId = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

export async function configure() {
  const response = await fetch("config.json"); // preloaded by index.html; served with no-cache
  if (!response.ok) throw new ApiError(response.status, "CONFIG", "The dashboard's config.json could not be read.");
  config = await response.json();
  return config;
}

export function settings() {
  return config;
}

/** Called with true when a session starts and false when it ends (sign out, refresh refused). */
export function onSession(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function query(params) {
  const pairs = Object.entries(params || {}).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return pairs.length ? "?" + new URLSearchParams(pairs).toString() : "";
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the gateway's or a proxy's answer
  }
  const error = body && body.error;
  if (error) {
    // A validation error names its fields in details: say which, not only that the request was bad.
    const fields = Array.isArray(error.details) ? error.details.filter((d) => d && d.message) : [];
    const said = fields.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).join("; ");
    const message = said ? `${error.message}: ${said}` : error.message;
    return new ApiError(response.status, error.code, message, error.details, error.request_id);
  }
  const message = (body && body.message) || response.statusText || "The request failed";
  // No envelope: the gateway answered (its authorizer denied an expired or revoked token, 403).
  return new ApiError(response.status, "GATEWAY", message);
}

async function send(method, path, { body, params, token } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = "Bearer " + token;
  let response;
  try {
    response = await fetch(config.api_url + path + query(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "NETWORK", "The API cannot be reached. Check your connection and try again.");
  }
  if (!response.ok) throw await errorFrom(response);
  const text = await response.text(); // 202 and 204 answers may have no body
  return text ? JSON.parse(text) : null;
}

function startSession(answer) {
  access = { token: answer.access_token, expiresAt: Date.now() + answer.expires_in * 1000 };
  sessionStorage.setItem(REFRESH_KEY, answer.refresh_token);
  clearTimeout(refreshTimer);
  // Rotate a minute before the access token expires, so a page left open stays signed in.
  const due = Math.max(5, answer.expires_in - 60) * 1000;
  refreshTimer = setTimeout(() => refresh().catch(() => {}), due);
}

function endSession() {
  const had = access !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
  access = null;
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(REFRESH_KEY);
  if (had) listeners.forEach((listener) => listener(false));
}

export async function login(email, password) {
  startSession(await send("POST", "/v1/auth/login", { body: { email, password } }));
  listeners.forEach((listener) => listener(true));
}

/** One refresh at a time: the refresh token is single-use, so a second concurrent use would fail. */
export function refresh() {
  if (refreshing) return refreshing;
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) return Promise.resolve(false);
  refreshing = send("POST", "/v1/auth/refresh", { body: { refresh_token: token } })
    .then((answer) => {
      startSession(answer);
      return true;
    })
    .catch((error) => {
      if (error.status === 401 || error.status === 400 || error.status === 403) endSession();
      throw error;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function logout() {
  const token = access && access.token;
  endSession();
  if (token) await send("POST", "/v1/auth/logout", { token }).catch(() => {});
}

export function signedIn() {
  return access !== null;
}

/** The current access token, refreshed first when it is about to expire (for the WebSocket). */
export async function accessToken() {
  if (!access || access.expiresAt - Date.now() < 30_000) await refresh();
  return access && access.token;
}

/** An authenticated call; a 401 refreshes the session once and retries. */
export async function api(method, path, options = {}) {
  // Never send a token about to expire: a gateway's denial may come without CORS headers, unreadable.
  if (!access || access.expiresAt - Date.now() < 10_000) await refresh().catch(() => {});
  if (!access) {
    endSession();
    throw new ApiError(401, "UNAUTHORIZED", "Your session has ended; sign in again.");
  }
  try {
    return await send(method, path, { ...options, token: access.token });
  } catch (error) {
    const denied = error.status === 401 || (error.status === 403 && error.code === "GATEWAY");
    if (!denied) throw error;
    if (!(await refresh().catch(() => false))) {
      endSession();
      throw new ApiError(401, "UNAUTHORIZED", "Your session has ended; sign in again.");
    }
    return send(method, path, { ...options, token: access.token });
  }
}

export const get = (path, params) => api("GET", path, { params });
export const post = (path, body) => api("POST", path, { body: body === undefined ? {} : body });
export const patch = (path, body) => api("PATCH", path, { body });
export const del = (path) => api("DELETE", path);
