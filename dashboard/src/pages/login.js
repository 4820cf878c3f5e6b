// Sign in with email and password.

import * as api from "../api.js";
import { h } from "../dom.js";
import { submitting } from "../ui.js";

export function render({ next }) {
  const email = h("input", { type: "email", name: "email", id: "email", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { type: "password", name: "password", id: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "login-form", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in to apimeter"),
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Email"), email),
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Password"), password),
    h("button", { type: "submit", class: "btn primary", id: "sign-in" }, "Sign in"),
  );
  submitting(form, async (data) => {
    const target = next && !next.startsWith("#/login") ? next : "#/";
    await api.login(String(data.get("email")).trim(), String(data.get("password")));
    if (window.location.hash !== target) window.location.hash = target;
  });
  return h("main", { id: "main", class: "login" }, form,
    h("p", { class: "login-note" }, "Running offline? ", h("code", null, "make dev"), " prints the demo account."));
}
