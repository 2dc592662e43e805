// The console: sign-in, then pages by the address's hash (#/keys, #/data …).
import "./style.css";
import { api, currentUser, isAdmin, restore, setTenant, signIn, signInAdmin, signOut, signedIn, tenantId } from "./api";
import { clear, field, h, notice, table } from "./dom";
import { dataPage, keysPage, modelsPage, trainingPage } from "./pages";
import { dashboardPage, experimentsPage } from "./insights";
import { settingsPage, tryPage } from "./settings";

const app = document.getElementById("app")!;

type Page = (main: HTMLElement) => Promise<void> | void;
const PAGES: Array<[string, string, Page]> = [
  ["dashboard", "Dashboard", dashboardPage],
  ["data", "Data", dataPage],
  ["training", "Training", trainingPage],
  ["models", "Models", modelsPage],
  ["experiments", "Experiments", experimentsPage],
  ["try", "Try it", tryPage],
  ["keys", "API keys", keysPage],
  ["settings", "Settings", settingsPage],
];

function signInView(): void {
  const email = h("input", { type: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", autocomplete: "current-password", required: true });
  const token = h("input", { type: "password", autocomplete: "off" });
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card narrow", onsubmit: async (e: Event) => {
    e.preventDefault();
    clear(status);
    try {
      if (token.value) await signInAdmin(token.value.trim());
      else await signIn(email.value.trim(), password.value);
      location.hash = isAdmin() ? "#/tenants" : "#/dashboard";
      render();
    } catch (err) {
      status.append(notice("error", (err as Error).message));
    }
  } },
    h("h1", {}, "Sign in to embedrec"),
    field("Email", email), field("Password", password),
    h("details", {}, h("summary", {}, "Platform administrator"),
      field("Admin token", token, "Instead of email and password: the server's EMBEDREC_ADMIN_TOKEN")),
    h("button", { type: "submit" }, "Sign in"), status);
  email.required = false;
  password.required = false;
  clear(app, h("main", { class: "center" }, form));
  email.focus();
}

async function tenantsPage(main: HTMLElement): Promise<void> {
  const list = h("div");
  const load = async () => {
    const page = await api("GET", "/api/v1/admin/tenants?limit=200");
    clear(list, table(page.tenants, [
      ["Name", (t: any) => t.name], ["Slug", (t: any) => t.slug], ["Status", (t: any) => t.status],
      ["Id", (t: any) => h("code", {}, t.id)],
      ["", (t: any) => h("span", {},
        h("button", { onclick: () => { setTenant(t.id); location.hash = "#/dashboard"; render(); } },
          t.id === tenantId() ? "Current" : "Open"), " ",
        h("button", { onclick: () => void showUsers(t) }, "Users"))]], "Tenants"));
  };
  const users = h("div");
  const showUsers = async (t: any) => {
    const r = await api("GET", `/api/v1/admin/users?tenant_id=${encodeURIComponent(t.id)}`);
    clear(users, table(r.users ?? [], [["Email", (u: any) => u.email], ["Role", (u: any) => u.role],
      ["Status", (u: any) => u.status ?? "active"]], `Users of ${t.name}`));
  };
  const name = h("input", { required: true }), slug = h("input", { required: true, pattern: "[a-z0-9-]+" });
  const uEmail = h("input", { type: "email" }), uPass = h("input", { type: "password", minlength: 8 });
  const role = h("select", {}, h("option", { value: "admin" }, "admin"), h("option", { value: "member" }, "member"),
                 h("option", { value: "viewer" }, "viewer"));
  const status = h("div", { "aria-live": "polite" });
  clear(main, h("h1", {}, "Tenants"), list, users,
    h("form", { class: "card", onsubmit: async (e: Event) => {
      e.preventDefault();
      clear(status);
      try {
        const t = await api("POST", "/api/v1/admin/tenants", { name: name.value, slug: slug.value });
        if (uEmail.value) {
          await api("POST", "/api/v1/admin/users", { email: uEmail.value, password: uPass.value, role: role.value, tenant_id: t.id });
        }
        status.append(notice("ok", `Created ${t.name} (${t.id})`));
        await load();
      } catch (err) { status.append(notice("error", (err as Error).message)); }
    } }, h("h2", {}, "New tenant"), field("Name", name), field("Slug", slug, "lowercase letters, digits and dashes"),
      field("First user's email (optional)", uEmail), field("Password", uPass), field("Role", role),
      h("button", { type: "submit" }, "Create"), status));
  await load();
}

export function render(): void {
  if (!signedIn()) return signInView();
  const route = location.hash.replace(/^#\//, "") || (isAdmin() && !tenantId() ? "tenants" : "dashboard");
  const main = h("main", { id: "main", tabindex: "-1" });
  const links = [...(isAdmin() ? [["tenants", "Tenants"]] : []), ...PAGES.map(([id, label]) => [id, label])];
  const nav = h("nav", { "aria-label": "Console" }, h("ul", {}, ...links.map(([id, label]) =>
    h("li", {}, h("a", { href: `#/${id}`, "aria-current": id === route ? "page" : undefined }, label)))));
  const who = isAdmin() ? `platform admin${tenantId() ? " · tenant " + tenantId().slice(0, 8) : ""}` : currentUser()?.email ?? "";
  clear(app,
    h("header", {}, h("a", { class: "skip", href: "#main" }, "Skip to content"),
      h("strong", { class: "brand" }, "embedrec"), h("span", { class: "who" }, who),
      h("button", { class: "link", onclick: async () => { await signOut(); location.hash = ""; render(); } }, "Sign out")),
    nav, main);
  const page = route === "tenants" && isAdmin() ? tenantsPage : PAGES.find(([id]) => id === route)?.[2];
  if (!page) { clear(main, notice("error", "No such page")); return; }
  if (route !== "tenants" && isAdmin() && !tenantId()) { clear(main, notice("warn", "Pick a tenant first (Tenants).")); return; }
  Promise.resolve(page(main)).catch((err) => main.prepend(notice("error", (err as Error).message)));
}

addEventListener("hashchange", render);
restore().finally(render);
