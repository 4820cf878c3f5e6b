// The organization's team: its users (email, role, since), adding one with an initial password
// (generated and shown once, or typed), changing a role and removing a user, for those who may;
// then what each role may do, from GET /v1/roles.

import { del, get, patch, post } from "../api.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { badge, empty, errorBox, field, fill, loading, notify, panel, submitting, table } from "../ui.js";
import { secretBox } from "./settings.js";

const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
const ACTIONS = {
  "users.read": "See the organization's users",
  "users.manage": "Add users, change roles, remove users",
  "projects.read": "See projects and their settings",
  "projects.manage": "Create projects, change their settings, delete them",
  "keys.read": "See a project's API keys (never their secrets)",
  "keys.manage": "Create, rotate and revoke API keys",
  "analytics.read": "Read analytics, events, forecasts and anomalies",
  "rollups.manage": "Recompute rollups (backfill)",
  "budgets.read": "See budgets and their alerts",
  "budgets.manage": "Create, change and delete budgets",
};

/** 16 characters from a cryptographic source, without look-alike letters. */
function generatePassword(length = 16) {
  const values = crypto.getRandomValues(new Uint32Array(length));
  return Array.from(values, (v) => ALPHABET[v % ALPHABET.length]).join("");
}

/** Roles at or below the signed-in user's (GET /v1/roles lists them strongest first): nobody grants a role
 * above their own or acts on a user above them. */
function grantable(roles, me) {
  const mine = roles.indexOf(me.role);
  return mine < 0 ? [] : roles.slice(mine);
}

function inviteForm(ctx, state) {
  const roles = grantable(state.roles, ctx.session.me);
  const role = h("select", { name: "role", id: "invite-role" },
    roles.map((r) => h("option", { value: r, selected: r === (roles.includes("member") ? "member" : roles[0]) }, r)));
  const password = h("input", { type: "text", name: "password", id: "invite-password", minlength: 10, maxlength: 256,
    autocomplete: "new-password", spellcheck: "false", disabled: true });
  const own = h("label", { class: "field hidden" }, h("span", { class: "field-label" }, "Initial password"), password,
    h("small", null, "At least 10 characters. Give it to them yourself; they should change it."));
  const sync = () => {
    own.classList.toggle("hidden", generate.checked);
    password.disabled = generate.checked;
    password.required = !generate.checked;
  };
  const generate = h("input", { type: "checkbox", id: "invite-generate", checked: true, onchange: () => {
    sync();
    if (!generate.checked) password.focus();
  } });
  const form = h("form", { id: "invite-form", class: "invite-form", "aria-label": "Add a user" },
    h("div", { class: "form-row" },
      field("Email", h("input", { type: "email", name: "email", id: "invite-email", required: true, maxlength: 320,
        autocomplete: "off" })),
      field("Role", role)),
    h("label", { class: "check" }, generate, " Generate an initial password (shown once, after adding)"),
    own,
    h("button", { type: "submit", class: "btn primary", id: "invite-submit" }, "Add user"));
  submitting(form, async (data) => {
    const generated = generate.checked;
    const secret = generated ? generatePassword() : String(data.get("password") || "");
    if (secret.length < 10) throw new Error("The initial password needs at least 10 characters.");
    const user = await post("/v1/users", { email: String(data.get("email")).trim(), role: data.get("role"), password: secret });
    form.reset();
    sync();
    if (generated) state.showSecret(`Initial password of ${user.email}`, secret);
    notify("User added", `${user.email} can sign in as ${user.role}.`, "success");
    state.loadUsers();
  });
  return form;
}

async function changeRole(ctx, state, user, select) {
  const previous = user.role;
  select.disabled = true;
  try {
    const updated = await patch(`/v1/users/${user.id}`, { role: select.value });
    notify("Role changed", `${updated.email} is now ${updated.role}.`, "success");
    state.loadUsers();
  } catch (error) {
    select.value = previous;
    select.disabled = false;
    notify("The role was not changed", error.message, "error");
  }
}

async function removeUser(state, user, control) {
  if (!window.confirm(`Remove ${user.email} from the organization? They are signed out and cannot sign in again.`)) return;
  control.disabled = true;
  try {
    await del(`/v1/users/${user.id}`);
    notify("User removed", `${user.email} no longer has access.`, "success");
    state.loadUsers();
  } catch (error) {
    control.disabled = false;
    notify("The user was not removed", error.message, "error");
  }
}

function userColumns(ctx, state) {
  const me = ctx.session.me;
  const manage = ctx.can("users.manage");
  const roles = grantable(state.roles, me);
  const mayActOn = (user) => manage && user.id !== me.id && roles.includes(user.role);
  const roleCell = (user) => {
    if (!mayActOn(user)) return badge(user.role);
    const select = h("select", { "data-action": "role", "data-user-id": user.id, "aria-label": `Role of ${user.email}` },
      roles.map((r) => h("option", { value: r, selected: r === user.role }, r)));
    select.addEventListener("change", () => changeRole(ctx, state, user, select));
    return select;
  };
  const columns = [
    { label: "Email", value: (u) => [u.email, u.id === me.id ? [" ", badge("you", "good")] : null] },
    { label: "Role", value: roleCell },
    { label: "Added", value: (u) => f.dateTime(u.created_at, ctx.timeZone) },
  ];
  if (manage) {
    columns.push({ label: "Actions", value: (u) => {
      if (!mayActOn(u)) return h("span", { class: "muted" }, "–");
      const remove = h("button", { type: "button", class: "btn small danger", "data-action": "remove-user", "data-user-id": u.id,
        "aria-label": `Remove ${u.email}`, onclick: () => removeUser(state, u, remove) }, "Remove");
      return remove;
    } });
  }
  return columns;
}

function usersPanel(ctx, state) {
  const slot = h("div", { class: "secret-slot" });
  const list = h("div", { id: "user-list" });
  state.showSecret = (title, secret) => {
    const box = secretBox("new-user-password", title, secret, "Give it to them over a safe channel.");
    mount(slot, box);
    box.focus();
  };
  ctx.onLeave(() => slot.replaceChildren());
  state.loadUsers = () => fill(list, async () => {
    const { users } = await get("/v1/users");
    if (!users.length) return empty("No users", "Add one above.");
    return table(userColumns(ctx, state), users, { caption: "Users of the organization" });
  });
  state.loadUsers();
  const manage = ctx.can("users.manage");
  return panel("Users", [slot, manage ? inviteForm(ctx, state) : null, list], { id: "users", wide: true });
}

function matrix(answer) {
  // role="img" with a label: read as "yes"/"no", and no off-screen text to widen a scrolled table.
  const mark = (yes) => {
    const word = yes ? "yes" : "no";
    return h("span", { class: word, role: "img", "aria-label": word, title: word }, yes ? "✓" : "·");
  };
  const columns = [
    { label: "Action", value: (p) => [h("code", null, p.action), h("div", { class: "muted small" }, ACTIONS[p.action] || "")] },
    ...answer.roles.map((role) => ({ label: role, value: (p) => mark(p.roles.includes(role)) })),
  ];
  return h("div", { class: "roles-matrix" }, table(columns, answer.permissions, { caption: "What each role may do" }));
}

export async function render(ctx, main) {
  const state = { roles: [] };
  const rolesBox = h("div", { id: "roles" }, loading());
  const usersBox = panel("Users", loading(), { wide: true });
  mount(main,
    h("div", { class: "page-head" },
      h("h1", null, "Team", ctx.session.tenant ? h("small", null, " · ", ctx.session.tenant.name) : null)),
    h("div", { class: "grid" }, usersBox, panel("Roles and permissions", rolesBox, { wide: true })));
  let roles;
  try {
    roles = await get("/v1/roles");
  } catch (error) {
    mount(usersBox.querySelector(".panel-body"), errorBox(error));
    mount(rolesBox, errorBox(error));
    return;
  }
  state.roles = roles.roles;
  usersBox.replaceWith(usersPanel(ctx, state));
  mount(rolesBox, matrix(roles), h("p", { class: "muted small" },
    "Nobody grants a role above their own or acts on a user above them, and an organization always keeps one owner."));
}
