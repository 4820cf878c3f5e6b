// What a project with no traffic yet shows: how to send the first event, with a key.

import { post, settings } from "../api.js";
import { h, mount } from "../dom.js";
import { button, code, copyButton, errorBox } from "../ui.js";

function apiBase() {
  return settings().api_url || window.location.origin;
}

function snippets(key) {
  const base = apiBase();
  const curl = `curl -s -X POST ${base}/v1/events \\
  -H 'X-API-Key: ${key}' -H 'content-type: application/json' \\
  -d '{"method":"GET","endpoint":"/users/{id}","status":200,"latency_ms":42}'`;
  const python = `pip install ./clients/python     # from the apimeter repository
export APIMETER_API_KEY=${key} APIMETER_URL=${base}

# FastAPI / Starlette (Flask, Django, WSGI and AWS Lambda: see the README)
import os
from apimeter_client import Client
from apimeter_client.asgi import ApimeterMiddleware

apimeter = Client(os.environ["APIMETER_API_KEY"], os.environ["APIMETER_URL"])
app.add_middleware(ApimeterMiddleware, client=apimeter)`;
  return [
    h("h3", null, "Send one event with curl"), h("div", { class: "snippet" }, code(curl), copyButton(curl)),
    h("h3", null, "Or send your app's traffic with the Python client"), h("div", { class: "snippet" }, code(python), copyButton(python)),
  ];
}

export async function gettingStarted(ctx) {
  const body = h("div", null, snippets("<your API key>"));
  const intro = h("p", null, "This project has no requests in this window or the one before. Send events with an API key that has the ",
    h("code", null, "track"), " scope; they show up here within seconds.");
  const actions = [];
  if (ctx.can("keys.manage")) {
    const make = button("Create a key for these snippets", async () => {
      make.disabled = true;
      try {
        const key = await post(`/v1/projects/${ctx.project.id}/keys`, { name: "getting started", scopes: ["track", "read"] });
        mount(body, h("p", { class: "notice" }, "This is the key's secret; it is shown only now. Keep it somewhere safe."), snippets(key.key));
      } catch (error) {
        mount(body, errorBox(error), snippets("<your API key>"));
      }
    }, { kind: "primary" });
    actions.push(make);
  } else {
    actions.push(h("p", { class: "muted" }, "Ask an owner, admin or member of your organization for a key."));
  }
  return h("section", { class: "panel wide getting-started", "aria-label": "Getting started" },
    h("h2", null, "No traffic yet"), intro, actions, body);
}
