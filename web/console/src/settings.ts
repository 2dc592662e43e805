// The tenant's settings and the "try it" panel.
import { api, tenantId } from "./api";
import { clear, field, fmt, h, notice, table } from "./dom";

export async function settingsPage(main: HTMLElement): Promise<void> {
  const t = await api("GET", `/api/v1/admin/tenants/${tenantId()}`);
  const s = t.settings ?? {};
  const origins = h("textarea", { rows: "3" });
  origins.value = (s.allowed_origins ?? []).join("\n");
  const ttl = h("input", { type: "number", min: "0", max: "86400", value: String(s.cache_ttl_seconds ?? 300) });
  const maxRecs = h("input", { type: "number", min: "1", max: "1000", value: String(s.max_recommendations ?? 50) });
  const exclude = h("select", {}, ...["auto", "purchased", "all_interacted", "none"].map((x) => h("option", { value: x, selected: x === s.exclude_from_recommendations }, x)));
  const retrain = h("input", { type: "checkbox", checked: s.auto_retrain !== false });
  const retrainAb = h("input", { type: "checkbox", checked: s.retrain_experiment !== false });
  const num = (v: unknown, dflt: number, min: number, max: number, step = "any") =>
    h("input", { type: "number", min: String(min), max: String(max), step, value: String(typeof v === "number" ? v : dflt) });
  const interval = num(s.retrain_interval_days, 7, 0.01, 365);
  const minNew = num(s.retrain_min_new_interactions, 10000, 1, 1e9, "1");
  const drop = num(s.retrain_metric_drop, 0.1, 0.01, 0.9);
  const tolerance = num(s.deploy_tolerance, 0.05, 0, 1);
  const click = num(s.attribution?.click_window_minutes, 30, 0.001, 1440);
  const conversion = num(s.attribution?.conversion_window_hours, 24, 0.001, 720);
  const currency = h("input", { maxlength: 3, placeholder: "EUR", value: s.currency ?? "", autocomplete: "off" });
  const merch = h("textarea", { rows: "10", spellcheck: "false", class: "code" });
  merch.value = JSON.stringify(s.merchandising ?? { rules: [], diversity: {} }, null, 2);
  const status = h("div", { "aria-live": "polite" });
  clear(main, h("h1", {}, "Settings"), h("form", { class: "card", onsubmit: async (e: Event) => {
    e.preventDefault();
    let merchandising: unknown;
    try { merchandising = JSON.parse(merch.value || "null"); }
    catch { status.replaceChildren(notice("error", "Merchandising rules are not valid JSON")); return; }
    try {
      await api("PATCH", `/api/v1/admin/tenants/${tenantId()}`, { settings: {
        allowed_origins: origins.value.split(/\s+/).filter(Boolean), cache_ttl_seconds: Number(ttl.value),
        max_recommendations: Number(maxRecs.value), exclude_from_recommendations: exclude.value,
        auto_retrain: retrain.checked, retrain_experiment: retrainAb.checked,
        retrain_interval_days: Number(interval.value), retrain_min_new_interactions: Number(minNew.value),
        retrain_metric_drop: Number(drop.value), deploy_tolerance: Number(tolerance.value),
        attribution: { click_window_minutes: Number(click.value), conversion_window_hours: Number(conversion.value) },
        currency: currency.value.trim() || null, merchandising } });
      status.replaceChildren(notice("ok", "Saved"));
    } catch (err) {
      const e2 = err as any;
      status.replaceChildren(notice("error", `${e2.message}${e2.details?.field ? ` (${e2.details.field})` : ""}`));
    }
  } },
    field("Allowed origins for the widget", origins, "one per line: https://shop.example — or * (publishable keys only)"),
    field("Result cache (seconds)", ttl), field("Most recommendations per request", maxRecs),
    field("Currency", currency, "the shop's ISO code (EUR, USD): uploads refuse prices written in another; the dashboard names it"),
    field("Exclude from recommendations", exclude),
    h("fieldset", {}, h("legend", {}, "Automatic retraining"),
      h("label", { class: "check" }, retrain, "Retrain automatically"),
      h("label", { class: "check" }, retrainAb, "Test a retrained model on 10 % of users before it replaces the one in use"),
      field("Every (days)", interval), field("Or after new interactions", minNew),
      field("Or when click-through drops by (share)", drop), field("Deploy tolerance (share of ndcg)", tolerance)),
    h("fieldset", {}, h("legend", {}, "Attribution"), field("Click window (minutes)", click),
      field("Conversion window (hours)", conversion)),
    field("Merchandising rules (JSON)", merch, "boost / bury / pin rules and diversity caps: see the README"),
    h("button", { type: "submit" }, "Save"), status),
    h("p", {}, h("small", {}, "Tenant id: "), h("code", {}, tenantId())));
}

export async function tryPage(main: HTMLElement): Promise<void> {
  const user = h("input", { placeholder: "USER_000001", required: true });
  const item = h("input", { placeholder: "PROD_000001" });
  const out = h("div", { "aria-live": "polite" });
  const show = (title: string, rows: any[], score: string) => table(rows, [
    ["#", (r: any) => rows.indexOf(r) + 1], ["Item", (r: any) => `${r.name} (${r.item_id})`], ["Category", (r: any) => r.category],
    ["Score", (r: any) => fmt(r[score], 3)], ["Why", (r: any) => r.reason ?? ""]], title);
  clear(main, h("h1", {}, "Try it"), h("form", { class: "card", onsubmit: async (e: Event) => {
    e.preventDefault();
    clear(out);
    try {
      const r = await api("POST", "/api/v1/recommendations", { user_id: user.value, count: 10 });
      out.append(show(`Recommendations for ${user.value} (${r.metadata?.algorithm}, ${r.metadata?.model_version ?? "no model"})`, r.recommendations, "score"));
      if (item.value) {
        const s = await api("POST", "/api/v1/recommendations/similar", { item_id: item.value, count: 10 });
        out.append(show(`Similar to ${item.value}`, s.similar_items, "similarity_score"));
      }
    } catch (err) { out.replaceChildren(notice("error", (err as Error).message)); }
  } }, field("User", user), field("Item (optional: its similar items)", item), h("button", { type: "submit" }, "Show")), out);
}
