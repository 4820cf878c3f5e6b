// Shared pieces of the pages: panels, tables, states, notices, the copy button.

import { h, mount } from "./dom.js";

export function panel(title, body, { actions, id, wide } = {}) {
  return h(
    "section",
    { class: ["panel", wide && "wide"], id, "aria-label": title },
    h("header", { class: "panel-head" }, h("h2", null, title), actions || null),
    h("div", { class: "panel-body" }, body),
  );
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function errorBox(error) {
  const id = error && error.requestId ? h("small", null, " (request ", error.requestId, ")") : null;
  return h("p", { class: "error", role: "alert" }, (error && error.message) || String(error), id);
}

export function empty(title, ...body) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), body);
}

/** Runs a loader and fills an element: a loading state first, then its content or the API's error. */
export async function fill(element, loader) {
  mount(element, loading());
  try {
    mount(element, await loader());
  } catch (error) {
    mount(element, errorBox(error));
  }
}

/**
 * A table. columns: [{key, label, value(row) -> node|string, numeric, sort}]; sort names the API's
 * sort for that column; onSort(sort) is called when its header is activated.
 */
export function table(columns, rows, { caption, sorted, onSort, onRow, rowLabel } = {}) {
  const head = h(
    "tr",
    null,
    columns.map((column) => {
      const attributes = { scope: "col", class: column.numeric ? "num" : null };
      if (column.sort && onSort) {
        const active = sorted === column.sort;
        attributes["aria-sort"] = active ? "descending" : "none";
        return h("th", attributes, h("button", { type: "button", class: "sort", onclick: () => onSort(column.sort) },
          column.label, active ? " ▾" : ""));
      }
      return h("th", attributes, column.label);
    }),
  );
  const body = rows.map((row) => {
    const cells = columns.map((column, index) => {
      const content = column.value ? column.value(row) : row[column.key];
      const tag = index === 0 && onRow ? "th" : "td";
      return h(tag, { class: column.numeric ? "num" : null, scope: tag === "th" ? "row" : null },
        index === 0 && onRow ? h("a", { href: onRow(row), "aria-label": rowLabel ? rowLabel(row) : null }, content) : content);
    });
    return h("tr", null, cells);
  });
  return h("div", { class: "table-wrap" },
    h("table", null, caption ? h("caption", { class: "sr-only" }, caption) : null, h("thead", null, head), h("tbody", null, body)));
}

export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), control, hint ? h("small", null, hint) : null);
}

export function button(text, onclick, { kind = "", type = "button", label, disabled } = {}) {
  return h("button", { type, class: ["btn", kind], onclick, "aria-label": label, disabled }, text);
}

/** Disables a form while its request runs and shows the API's error beside it. */
export function submitting(form, run) {
  const status = h("p", { class: "form-status", role: "alert" });
  form.append(status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form); // before disabling: disabled controls are left out of it
    const controls = [...form.querySelectorAll("button, input, select, textarea")];
    controls.forEach((control) => (control.disabled = true));
    mount(status);
    try {
      await run(data);
    } catch (error) {
      mount(status, errorBox(error));
    } finally {
      controls.forEach((control) => (control.disabled = false));
    }
  });
  return form;
}

export function copyButton(text, label = "Copy") {
  const control = button(label, async () => {
    try {
      await navigator.clipboard.writeText(text);
      control.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(control.previousSibling || control);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      control.textContent = "Press Ctrl+C";
    }
    setTimeout(() => (control.textContent = label), 2000);
  }, { kind: "small" });
  return control;
}

const toastRoot = () => document.getElementById("toasts");

/** A notification in the corner (alerts, anomalies, saved changes), read out by screen readers. */
export function notify(title, text, kind = "info") {
  const close = button("×", () => item.remove(), { kind: "ghost", label: "Dismiss" });
  const item = h("div", { class: ["toast", kind], role: kind === "error" ? "alert" : "status" },
    h("strong", null, title), text ? h("span", null, text) : null, close);
  toastRoot().append(item);
  setTimeout(() => item.remove(), kind === "error" ? 15_000 : 8_000);
  return item;
}

export function badge(text, kind = "") {
  return h("span", { class: ["badge", kind] }, text);
}

export function code(text) {
  return h("pre", { class: "code" }, h("code", null, text));
}
