// The live feed: one WebSocket to the live API, subscribed to the project on screen. It reconnects
// by itself (with backoff) and fetches a fresh access token for each connection.

export class LiveFeed {
  constructor(url, token) {
    // A path ("/ws") is the live API on this page's own host.
    const resolved = new URL(url, window.location.href);
    if (resolved.protocol === "http:") resolved.protocol = "ws:";
    if (resolved.protocol === "https:") resolved.protocol = "wss:";
    this.url = resolved.href;
    this.token = token; // async () => access token
    this.project = null;
    this.socket = null;
    this.handlers = new Map();
    this.retry = 0;
    this.timer = null;
    this.closed = false;
    this.status = "off";
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type).delete(handler);
  }

  emit(type, message) {
    (this.handlers.get(type) || []).forEach((handler) => handler(message));
  }

  setStatus(status) {
    this.status = status;
    this.emit("status", status);
  }

  /** Watch a project (null: none); connects on first use. */
  watch(project) {
    if (project === this.project) return;
    const previous = this.project;
    this.project = project;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      if (previous) this.send({ action: "unsubscribe", project_id: previous });
      if (project) this.send({ action: "subscribe", project_id: project });
    } else if (project && !this.socket && !this.timer) {
      this.connect();
    }
  }

  send(message) {
    this.socket.send(JSON.stringify(message));
  }

  async connect() {
    this.timer = null;
    if (this.closed || !this.url) return;
    this.setStatus("connecting");
    let token;
    try {
      token = await this.token();
    } catch {
      token = null;
    }
    if (!token) return this.later();
    const socket = new WebSocket(this.url + "?token=" + encodeURIComponent(token));
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.retry = 0;
      if (this.project) this.send({ action: "subscribe", project_id: this.project });
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "subscribed") this.setStatus("live");
      if (message.project_id && message.project_id !== this.project && message.type !== "alert") return;
      this.emit(message.type, message);
    });
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.socket = null;
      this.later();
    });
  }

  later() {
    if (this.closed) return;
    this.setStatus("offline");
    const delay = Math.min(30_000, 1000 * 2 ** this.retry) * (0.75 + Math.random() / 2);
    this.retry = Math.min(this.retry + 1, 5);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
    this.socket = null;
    this.setStatus("off");
  }
}
