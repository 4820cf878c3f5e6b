// The organization's projects, each linking to its overview (time zone, retention, created), and,
// for those who may, a form that creates one (then sets its time zone) and opens it.

import { patch, post } from "../api.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { empty, field, fill, notify, panel, submitting } from "../ui.js";
import { whoMay, zoneSelect } from "./settings.js";

function card(project) {
  return h("article", { class: "card project-card", "data-project-id": project.id },
    h("h2", null, h("a", { href: `#/p/${encodeURIComponent(project.id)}/overview` }, project.name)),
    h("dl", { class: "project-facts" },
      h("dt", null, "Time zone"), h("dd", null, project.timezone),
      h("dt", null, "Retention"), h("dd", null, `${f.integer(project.retention_days)} days`),
      h("dt", null, "Created"), h("dd", null, f.dateTime(project.created_at, project.timezone))));
}

function createForm(ctx) {
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const form = h("form", { id: "project-create-form", "aria-label": "Create a project" },
    h("div", { class: "form-row" },
      field("Name", h("input", { name: "name", id: "new-project-name", required: true, maxlength: 200, autocomplete: "off",
        placeholder: "e.g. Public API" })),
      field("Time zone", zoneSelect({ name: "timezone", id: "new-project-timezone" }, browserZone), "Days and charts use it")),
    h("button", { type: "submit", class: "btn primary", id: "create-project" }, "Create project"));
  submitting(form, async (data) => {
    const project = await post("/v1/projects", { name: String(data.get("name")).trim() });
    const timezone = data.get("timezone");
    if (timezone && timezone !== project.timezone) {
      // POST /v1/projects takes only a name; the zone is a setting of the project made.
      await patch(`/v1/projects/${project.id}`, { timezone }).catch((error) => {
        notify("Time zone not set", `${error.message} Change it in the project's settings.`, "warning");
      });
    }
    await ctx.reloadProjects();
    notify("Project created", `"${project.name}" is ready: create an API key in its settings to send events.`, "success");
    ctx.go(`/p/${project.id}/overview`);
  });
  return form;
}

export async function render(ctx, main) {
  const manage = ctx.can("projects.manage");
  const list = h("div", { id: "project-list" });
  mount(main,
    h("div", { class: "page-head" },
      h("h1", null, "Projects", ctx.session.tenant ? h("small", null, " · ", ctx.session.tenant.name) : null)),
    list,
    manage ? h("div", { class: "grid" }, panel("Create a project", createForm(ctx), { id: "create", wide: true })) : null);
  await fill(list, async () => {
    const projects = await ctx.reloadProjects();
    if (!projects.length) {
      return h("div", { class: "panel" }, empty("No projects yet", manage
        ? "Create your organization's first project below, then an API key in its settings to start sending events."
        : `Ask an ${whoMay(ctx, "projects.manage")} of your organization to create one.`));
    }
    return h("div", { class: "project-cards" }, projects.map(card));
  });
}
