// The only way this app makes DOM: elements with attributes and text nodes. Nothing is ever parsed
// as HTML, so a string that came from a tracked event or another user is shown as sent, never run.

const URL_ATTRIBUTES = new Set(["href", "src", "action"]);

/** A safe URL for href/src: same-document (#...), relative, or http(s); anything else becomes "#". */
export function safeUrl(value) {
  const text = String(value);
  if (text.startsWith("#") || text.startsWith("/")) return text;
  try {
    const url = new URL(text, window.location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : "#";
  } catch {
    return "#";
  }
}

function setAttribute(element, name, value) {
  if (value === undefined || value === null || value === false) return;
  if (name === "class") element.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
  else if (name === "dataset") Object.assign(element.dataset, value);
  else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
  else if (name === "checked" || name === "selected") {
    element[name] = value; // and as the default, so a form's reset() comes back to it
    element[name === "checked" ? "defaultChecked" : "defaultSelected"] = value;
  } else if (name === "value" || name === "disabled") element[name] = value;
  else if (name === "style" || name === "innerHTML" || name === "outerHTML" || name.startsWith("on")) {
    throw new Error(`h(): ${name} is not allowed`);
  } else element.setAttribute(name, URL_ATTRIBUTES.has(name) ? safeUrl(value) : value === true ? "" : String(value));
}

function append(element, child) {
  if (child === undefined || child === null || child === false) return;
  if (Array.isArray(child)) child.forEach((c) => append(element, c));
  else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
}

/** h("a", {href: "#/x", class: "link"}, "text", otherNode, [more]) */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  if (attributes) for (const [name, value] of Object.entries(attributes)) setAttribute(element, name, value);
  append(element, children);
  return element;
}

/** Replace everything inside an element. */
export function mount(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}
