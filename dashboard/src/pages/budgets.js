// Budgets: the project's and the organization-wide ones, each with its thresholds (on actual spend
// or on the forecast; notify, throttle or suspend), its channels and the alerts it fired. Owners and
// admins (budgets.manage) create, edit and delete them here.

import { del, get, patch, post } from "../api.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { badge, button, copyButton, empty, field, fill, notify, panel, submitting } from "../ui.js";

const MAX_THRESHOLDS = 10;
const MAX_WEBHOOKS = 5;
const PERIODS = ["daily", "weekly", "monthly"];
const METRICS = ["cost", "requests"];
const ACTIONS = ["notify", "throttle", "suspend"];
const capital = (text) => text[0].toUpperCase() + text.slice(1);
const percentText = (value) => `${f.short(value)} %`;

function option(value, current, text = capital(value)) {
  return h("option", { value, selected: value === current }, text);
}

function amountText(budget) {
  return budget.metric === "cost" ? f.money(budget.amount, budget.currency) : `${f.integer(budget.amount)} requests`;
}

// the list

function thresholdItem(threshold, metric) {
  const basis = threshold.on === "forecast"
    ? `of ${metric} on the forecast, at least ${percentText((threshold.probability ?? 0.8) * 100)} likely`
    : `of actual ${metric}`;
  const tone = { notify: "", throttle: "warn", suspend: "bad" }[threshold.action];
  return h("li", null, h("strong", null, percentText(threshold.percent)), " ", basis, " ", badge(threshold.action, tone));
}

function channelList(channels) {
  const items = [];
  if (channels.sns) items.push(h("li", null, "SNS topic"));
  if (channels.eventbridge) items.push(h("li", null, "EventBridge bus"));
  channels.webhooks.forEach((hook) => items.push(h("li", null, "Webhook ", h("code", { class: "budget-url" }, hook.url),
    h("small", { class: "muted" }, " secret …", hook.secret_hint))));
  return items.length ? h("ul", { class: "budget-list-items" }, items)
    : h("span", { class: "muted" }, "None: alerts are listed here and sent live");
}

function alertsTable(ctx, alerts) {
  if (!alerts.length) {
    return h("p", { class: "muted" },
      "No alerts yet. An alert fires once per threshold and period, when spend (or the forecast) ",
      "reaches it; it is listed here and sent to the budget's channels.");
  }
  const rows = alerts.map((alert) => h("tr", { "data-alert-id": alert.id },
    h("td", { "data-label": "Fired", class: "budget-nowrap" },
      h("time", { datetime: alert.fired_at }, f.dateTime(alert.fired_at, ctx.timeZone))),
    h("td", { "data-label": "On" }, alert.type === "budget.threshold_forecast" ? badge("forecast", "warn") : badge("actual")),
    h("td", { "data-label": "Message" }, alert.message),
    h("td", { class: "num", "data-label": "Reached" }, percentText(alert.percent_reached)),
    h("td", { "data-label": "Period", class: "budget-nowrap" }, (alert.period && alert.period.label) || "–"),
    h("td", { "data-label": "Deliveries" }, Object.keys(alert.deliveries).length
      ? Object.entries(alert.deliveries).map(([channel, state]) => h("div", { class: "small" }, channel, ": ", state,
        (alert.delivery_errors || {})[channel] ? ` (${alert.delivery_errors[channel]})` : ""))
      : h("span", { class: "muted small" }, "no channels"))));
  return h("div", { class: "table-wrap" }, h("table", { class: "budget-alerts budget-stack" },
    h("caption", { class: "sr-only" }, "Alerts of this budget, newest period first"),
    h("thead", null, h("tr", null, ["Fired", "On", "Message", "Reached", "Period", "Deliveries"].map((label) =>
      h("th", { scope: "col", class: label === "Reached" ? "num" : null }, label)))),
    h("tbody", null, rows)),
  h("p", { class: "muted small" }, "Times in ", ctx.timeZone, "."));
}

function budgetRows(ctx, scope, budget) {
  const manage = ctx.can("budgets.manage");
  const detailsId = `budget-alerts-${budget.id}`;
  const alertsCell = h("td", { colspan: "6" });
  const details = h("tr", { class: "details hidden", id: detailsId, "data-alerts-for": budget.id }, alertsCell);
  const loadAlerts = () => fill(alertsCell, async () => {
    const answer = await get(`${scope.base}/${encodeURIComponent(budget.id)}/alerts`, { limit: 50 });
    return [h("h3", null, "Alerts of ", budget.name), alertsTable(ctx, answer.alerts)];
  });
  const toggle = button("Alerts", () => {
    const open = details.classList.toggle("hidden") === false;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) loadAlerts();
  }, { kind: "small", label: `Alerts of ${budget.name}` });
  // Every reader may open the history; data-action marks only the controls of budgets.manage users (a viewer's
  // page carries no data-action at all), so the history's own hook is data-view.
  toggle.dataset.view = "alerts";
  if (manage) toggle.dataset.action = "alerts";
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", detailsId);
  const actions = [toggle];
  if (manage) {
    const edit = button("Edit", () => scope.openForm(budget), { kind: "small", label: `Edit ${budget.name}` });
    edit.dataset.action = "edit";
    const remove = button("Delete", () => scope.remove(budget, remove), { kind: "small danger", label: `Delete ${budget.name}` });
    remove.dataset.action = "delete";
    actions.push(edit, remove);
  }
  const acting = budget.thresholds.some((t) => t.action !== "notify");
  const row = h("tr", { class: "budget-row" },
    h("th", { scope: "row" },
      h("div", { class: "budget-name" }, budget.name),
      acting ? h("small", { class: "muted" }, "acts on ",
        budget.key_id ? ["key ", h("code", null, budget.key_id)] : "all keys") : null,
      h("div", { class: "budget-actions" }, actions)),
    h("td", { "data-label": "Metric" }, capital(budget.metric)),
    h("td", { class: "num", "data-label": "Amount" }, amountText(budget)),
    h("td", { "data-label": "Period" }, capital(budget.period), h("span", { class: "muted small" }, " ", budget.timezone)),
    h("td", { "data-label": "Thresholds" },
      h("ul", { class: "budget-list-items" }, budget.thresholds.map((t) => thresholdItem(t, budget.metric)))),
    h("td", { "data-label": "Channels" }, channelList(budget.channels)));
  row.dataset.budgetId = budget.id;
  return { row, details, loadAlerts, isOpen: () => !details.classList.contains("hidden") };
}

function budgetTable(ctx, scope, budgets) {
  const made = budgets.map((budget) => budgetRows(ctx, scope, budget));
  scope.open = new Map(budgets.map((budget, i) => [budget.id, made[i]]));
  return h("div", { class: "table-wrap" }, h("table", { class: "budgets-table budget-stack", id: `budgets-${scope.key}` },
    h("caption", { class: "sr-only" }, scope.title),
    h("thead", null, h("tr", null, ["Budget", "Metric", "Amount", "Period", "Thresholds", "Channels"].map((label) =>
      h("th", { scope: "col", class: label === "Amount" ? "num" : null }, label)))),
    h("tbody", null, made.map((m) => [m.row, m.details]))));
}

// the form

function thresholdRow(threshold, onChange) {
  const percent = h("input", { type: "number", name: "threshold-percent", min: "0.01", max: "1000", step: "any", required: true,
    value: threshold.percent ?? "", inputmode: "decimal" });
  const on = h("select", { name: "threshold-on" }, option("actual", threshold.on || "actual", "Actual so far"),
    option("forecast", threshold.on, "Forecast"));
  const probability = h("input", { type: "number", name: "threshold-probability", min: "50", max: "97.5", step: "any",
    value: String((threshold.probability ?? 0.8) * 100), inputmode: "decimal" });
  const action = h("select", { name: "threshold-action" }, ACTIONS.map((a) => option(a, threshold.action || "notify")));
  const remove = button("Remove", () => onChange("remove", item), { kind: "small ghost", label: "Remove this threshold" });
  remove.dataset.action = "remove-threshold";
  const probabilityField = field("Probability %", probability);
  const actionField = field("Action", action);
  const sync = () => {
    const forecast = on.value === "forecast";
    probabilityField.classList.toggle("hidden", !forecast);
    probability.required = forecast;
    if (forecast) action.value = "notify";
    action.disabled = forecast; // a forecast threshold can only notify
  };
  on.addEventListener("change", sync);
  const item = h("div", { class: "form-row threshold-row" },
    field("Percent of amount", percent), field("Judged on", on), probabilityField, actionField, remove);
  item.sync = sync;
  item.value = () => {
    const out = { percent: Number(percent.value), on: on.value, action: on.value === "forecast" ? "notify" : action.value };
    if (on.value === "forecast") out.probability = Number(probability.value) / 100;
    return out;
  };
  sync();
  return item;
}

function webhookRow(hook, editing, onChange) {
  const url = h("input", { type: "url", name: "webhook-url", required: true, value: hook.url || "", maxlength: "2048",
    placeholder: "https://example.com/hooks/apimeter" });
  const secret = h("input", { type: "text", name: "webhook-secret", minlength: "16", maxlength: "256", autocomplete: "off",
    spellcheck: "false", placeholder: hook.secret_hint ? `…${hook.secret_hint}` : "generated when empty" });
  const hint = hook.secret_hint && editing ? "Empty: keeps its current secret." : "16+ characters; empty: one is generated.";
  const remove = button("Remove", () => onChange("remove", item), { kind: "small ghost", label: "Remove this webhook" });
  remove.dataset.action = "remove-webhook";
  const item = h("div", { class: "form-row webhook-row" },
    field("Webhook URL", url), field("Signing secret (optional)", secret, hint), remove);
  item.value = () => (secret.value ? { url: url.value.trim(), secret: secret.value } : { url: url.value.trim() });
  return item;
}

/** A list of rows inside a fieldset: add (up to max) and remove (down to min). */
function rowsEditor(legend, make, initial, { min, max, addText }) {
  const box = h("div", { class: "rows" });
  const add = button(addText, () => {
    box.append(make({}, changed));
    sync();
    const first = box.lastElementChild.querySelector("input");
    if (first) first.focus();
  }, { kind: "small" });
  add.dataset.action = "add-" + legend.toLowerCase().split(" ")[0].replace(/s$/, "");
  const count = h("small", { class: "muted" });
  const sync = () => {
    const n = box.children.length;
    add.disabled = n >= max;
    mount(count, ` ${n} of at most ${max}`);
    [...box.children].forEach((row) => {
      const remove = row.querySelector("[data-action^='remove']");
      if (remove) remove.disabled = n <= min;
      if (row.sync) row.sync();
    });
  };
  function changed(what, row) {
    if (what === "remove") row.remove();
    sync();
    add.focus();
  }
  initial.forEach((value) => box.append(make(value, changed)));
  sync();
  const fieldset = h("fieldset", null, h("legend", null, legend, count), box, add);
  return { fieldset, values: () => [...box.children].map((row) => row.value()), sync };
}

function channelsKey(channels) {
  return JSON.stringify({ sns: channels.sns, eventbridge: channels.eventbridge,
    webhooks: channels.webhooks.map((w) => ({ url: w.url, secret: w.secret || null })) });
}

function budgetForm(ctx, scope, budget, { onSaved, onCancel }) {
  const editing = Boolean(budget);
  const b = budget || { name: "", amount: "", period: "monthly", metric: "cost", thresholds: [{ percent: 80 }, { percent: 100 }],
    channels: { sns: false, eventbridge: false, webhooks: [] } };
  const name = h("input", { name: "name", required: true, maxlength: "100", value: b.name, autocomplete: "off" });
  const amount = h("input", { type: "number", name: "amount", required: true, min: "0.000001", step: "any", value: b.amount,
    inputmode: "decimal" });
  const period = h("select", { name: "period" }, PERIODS.map((p) => option(p, b.period)));
  const metric = h("select", { name: "metric" }, METRICS.map((m) => option(m, b.metric, m === "cost" ? "Cost" : "Requests")));
  const currency = h("input", { name: "currency", pattern: "[A-Z]{3}", maxlength: "3", size: "5", autocomplete: "off",
    value: editing ? b.currency : "", placeholder: scope.defaults.currency, readonly: editing ? true : null });
  const timezone = h("input", { name: "timezone", maxlength: "64", list: "budget-timezones", autocomplete: "off",
    value: editing ? b.timezone : "", placeholder: scope.defaults.timezone });
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const amountHint = h("small", { class: "muted" });
  const syncAmount = () => mount(amountHint, metric.value === "cost" ? "In the budget's currency." : "A number of requests.");
  metric.addEventListener("change", syncAmount);
  syncAmount();
  const thresholds = rowsEditor("Thresholds", (t, changed) => thresholdRow(t, changed), b.thresholds,
    { min: 1, max: MAX_THRESHOLDS, addText: "Add threshold" });
  const sns = h("input", { type: "checkbox", name: "sns", checked: b.channels.sns });
  const eventbridge = h("input", { type: "checkbox", name: "eventbridge", checked: b.channels.eventbridge });
  const webhooks = rowsEditor("Webhooks", (w, changed) => webhookRow(w, editing, changed), b.channels.webhooks,
    { min: 0, max: MAX_WEBHOOKS, addText: "Add webhook" });
  const cancel = button("Cancel", onCancel, { kind: "ghost" });
  const form = h("form", { id: "budget-form", class: "budget-form", "data-scope": scope.key,
    "data-budget-id": editing ? b.id : null,
    "aria-label": editing ? `Edit budget ${b.name}` : `New ${scope.noun}` },
    h("h3", null, editing ? ["Edit ", b.name] : `New ${scope.noun}`),
    h("div", { class: "form-row budget-basics" },
      field("Name", name),
      h("label", { class: "field" }, h("span", { class: "field-label" }, "Amount"), amount, amountHint),
      field("Period", period, "Weekly periods start on Monday."),
      field("Metric", metric)),
    h("div", { class: "form-row budget-basics" },
      field("Currency", currency, editing ? "Set when the budget was created." : `Empty: ${scope.defaults.currency}.`),
      field("Time zone", timezone, `IANA name; empty: ${scope.defaults.timezone}.`),
      h("datalist", { id: "budget-timezones" }, zones.map((z) => h("option", { value: z })))),
    thresholds.fieldset,
    h("p", { class: "muted small" }, "Actual thresholds are judged within seconds of the events that cross them; forecast ",
      "thresholds hourly, and only notify. Throttle leaves the keys a tenth of their rate limits until the period ends; ",
      "suspend (at 100 % or more) blocks them."),
    h("fieldset", null, h("legend", null, "Channels"),
      h("label", { class: "budget-check" }, sns, " SNS topic"),
      h("label", { class: "budget-check" }, eventbridge, " EventBridge bus"),
      webhooks.fieldset),
    h("div", { class: "form-row" },
      h("button", { type: "submit", class: "btn primary", id: "budget-save" }, editing ? "Save changes" : "Create budget"),
      cancel));

  submitting(form, async () => {
    try {
      const body = { name: name.value.trim(), amount: Number(amount.value), period: period.value, metric: metric.value,
        thresholds: thresholds.values() };
      if (timezone.value.trim()) body.timezone = timezone.value.trim();
      const channels = { sns: sns.checked, eventbridge: eventbridge.checked, webhooks: webhooks.values() };
      if (!editing) {
        if (currency.value.trim()) body.currency = currency.value.trim().toUpperCase();
        body.channels = channels;
        onSaved(await post(scope.base, body), false);
      } else {
        if (channelsKey(channels) !== channelsKey(b.channels)) body.channels = channels; // else its secrets stay unshown
        onSaved(await patch(`${scope.base}/${encodeURIComponent(b.id)}`, body), true);
      }
    } finally {
      setTimeout(() => (thresholds.sync(), webhooks.sync()), 0); // after the form's controls are enabled again
    }
  });
  return form;
}

/** Webhook secrets are shown once: in the answer that created or changed them. */
function secretsNotice(budget) {
  const shown = budget.channels.webhooks.filter((w) => w.secret);
  if (!shown.length) return null;
  return h("div", { class: "notice budget-secrets", role: "status" },
    h("p", null, h("strong", null, "Webhook signing secrets of ", budget.name), ": shown only now. Keep them where your ",
      "receiver can check signatures."),
    shown.map((w) => h("div", { class: "secret" }, h("span", null, h("code", { class: "budget-url" }, w.url)),
      h("code", null, w.secret), copyButton(w.secret))));
}

// the page

function section(ctx, page, scope) {
  const list = h("div", { class: "budget-list" });
  const formBox = h("div", { class: "budget-form-box" });
  const notices = h("div", null);
  scope.open = new Map();
  const load = () => fill(list, async () => {
    const answer = await get(scope.base);
    if (!answer.budgets.length) {
      return empty(`No ${scope.noun}s yet`, h("p", null, scope.emptyText),
        ctx.can("budgets.manage") ? h("p", null, "Create one with ", h("strong", null, "New budget"), ".")
          : h("p", null, "An owner or admin of the organization can create one."));
    }
    return budgetTable(ctx, scope, answer.budgets);
  });
  scope.openForm = (budget) => {
    page.closeForm();
    mount(formBox, budgetForm(ctx, scope, budget, {
      onSaved: (saved, edited) => {
        page.closeForm();
        mount(notices, secretsNotice(saved));
        notify(edited ? "Budget saved" : "Budget created", saved.name, "success");
        load();
      },
      onCancel: () => {
        page.closeForm();
        if (create) create.focus();
      },
    }));
    formBox.querySelector("input").focus();
    formBox.scrollIntoView({ block: "nearest" });
  };
  scope.closeForm = () => mount(formBox);
  scope.remove = async (budget, control) => {
    const question = `Delete the budget "${budget.name}" and its alert history? A throttle or suspension it put on keys ends.`;
    if (!window.confirm(question)) return;
    control.disabled = true;
    try {
      await del(`${scope.base}/${encodeURIComponent(budget.id)}`);
      notify("Budget deleted", budget.name, "success");
      page.closeForm();
      load();
    } catch (error) {
      control.disabled = false;
      notify("Budget not deleted", error.message, "error");
    }
  };
  const create = ctx.can("budgets.manage") ? button("New budget", () => scope.openForm(null), { kind: "primary" }) : null;
  if (create) create.dataset.action = "create";
  load();
  return h("div", { class: "grid" }, panel(scope.title, [h("p", { class: "muted small" }, scope.intro), notices, formBox, list],
    { id: `${scope.key}-budgets`, wide: true, actions: create }));
}

export async function render(ctx, main) {
  const { project } = ctx;
  const scopes = [
    { key: "project", noun: "project budget", title: `Budgets of ${project.name}`, base: `/v1/projects/${project.id}/budgets`,
      defaults: { timezone: ctx.timeZone, currency: project.pricing.currency },
      intro: "Cap this project's cost or requests per day, week or month, in its time zone unless you choose another.",
      emptyText: "A budget alerts you (and can throttle or suspend keys) when this project's spend reaches its thresholds." },
    { key: "org", noun: "organization-wide budget", title: "Organization-wide budgets", base: "/v1/budgets",
      defaults: { timezone: "UTC", currency: "USD" },
      intro: `Across every project of ${ctx.session.tenant ? ctx.session.tenant.name : "the organization"}.`,
      emptyText: "An organization-wide budget counts the spend of all projects together." },
  ];
  const page = { closeForm: () => scopes.forEach((s) => s.closeForm && s.closeForm()) };
  mount(main,
    h("div", { class: "page-head" }, h("h1", null, "Budgets", h("small", null, " · ", project.name))),
    scopes.map((scope) => section(ctx, page, scope)));
  // An alert that fires while a budget's alerts are open shows up in them (main.js shows the toast).
  ctx.onLive("alert", (message) => {
    const id = message.alert && message.alert.budget_id;
    scopes.forEach((scope) => {
      const open = scope.open.get(id);
      if (open && open.isOpen()) open.loadAlerts();
    });
  });
}
