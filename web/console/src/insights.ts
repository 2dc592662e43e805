// The dashboard (figures and charts from analytics) and experiments.
import { api, tenantId } from "./api";
import { lineChart, Series } from "./charts";
import { clear, field, fmt, h, notice, table } from "./dom";

const PERIODS = ["last_hour", "last_24_hours", "last_7_days", "last_30_days"];
const CHARTS: Array<[string, string]> = [
  ["calls", "API calls"], ["ctr", "Click-through rate"], ["conversion", "Conversion"],
  ["revenue", "Attributed revenue"], ["latency_p95", "Latency p95 (ms)"],
];

export async function dashboardPage(main: HTMLElement): Promise<void> {
  const period = h("select", { "aria-label": "Period" }, ...PERIODS.map((p) => h("option", { value: p, selected: p === "last_24_hours" }, p.replace(/_/g, " "))));
  const body = h("div");
  const load = async () => {
    clear(body, h("p", {}, "Loading…"));
    const base = `/api/v1/analytics/tenant/${tenantId()}`;
    const d = await api("GET", `${base}/dashboard?period=${period.value}`);
    const m = d.metrics ?? {};
    const ri = m.revenue_impact ?? {};
    const tiles: Array<[string, unknown]> = [
      ["Recommendations served", m.total_recommendations_served], ["API calls", m.total_api_calls],
      ["Click-through rate", typeof m.click_through_rate === "number" ? `${(m.click_through_rate * 100).toFixed(2)} %` : null],
      ["Conversion", typeof m.conversion_rate === "number" ? `${(m.conversion_rate * 100).toFixed(2)} %` : null],
      [d.currency ? `Attributed revenue (${d.currency})` : "Attributed revenue", ri.attributed_revenue],
      ["Attributed orders", ri.attributed_orders],
      ["Average latency (ms)", m.average_latency_ms], ["Cache hit rate", m.cache_hit_rate],
    ];
    const interval = period.value === "last_hour" ? "minute" : period.value === "last_30_days" ? "day" : "hour";
    const charts = await Promise.all(CHARTS.map(async ([metric, title]) => {
      const s = await api("GET", `${base}/timeseries?period=${period.value}&metric=${metric}&interval=${interval}`);
      const xs = s.points.map((p: any) => Date.parse(p.ts) / 1000);
      const series: Series[] = [{ label: "all", values: s.points.map((p: any) => p.value ?? null) }];
      const versions = new Set<string>();
      for (const p of s.points) for (const v of Object.keys(p.by_model_version ?? {})) versions.add(v);
      for (const v of versions) series.push({ label: v, values: s.points.map((p: any) => p.by_model_version?.[v] ?? null) });
      const c = lineChart(title, xs, series);
      c.el.dataset.metric = metric;
      return c.el;
    }));
    clear(body,
      h("div", { class: "tiles" }, ...tiles.map(([k, v]) => h("div", { class: "tile" }, h("span", {}, k), h("strong", {}, fmt(v, 2))))),
      h("div", { class: "charts" }, ...charts),
      table(d.top_recommended_items ?? [], [["Item", (i: any) => i.item_id], ["Impressions", (i: any) => fmt(i.impressions)],
        ["Clicks", (i: any) => fmt(i.clicks)], ["Purchases", (i: any) => fmt(i.purchases)], [d.currency ? `Revenue (${d.currency})` : "Revenue", (i: any) => fmt(i.revenue, 2)]],
        "Top recommended items"),
      table(Object.entries(d.data_quality ?? {}).filter(([, v]) => typeof v !== "object"),
        [["Data quality", ([k]) => String(k).replace(/_/g, " ")], ["", ([, v]) => fmt(v)]]));
  };
  period.addEventListener("change", () => void load().catch((e) => body.replaceChildren(notice("error", e.message))));
  clear(main, h("div", { class: "row" }, h("h1", {}, "Dashboard"), field("Period", period)), body);
  await load();
}

export async function experimentsPage(main: HTMLElement): Promise<void> {
  const list = h("div"), status = h("div", { "aria-live": "polite" });
  const load = async () => {
    const { experiments } = await api("GET", "/api/v1/experiments?limit=20");
    clear(list, ...experiments.map((e: any) => {
      const arms = e.statistics?.arms ?? {};
      const act = (what: string) => h("button", { class: what === "abort" ? "danger" : "", onclick: async () => {
        try { await api("POST", `/api/v1/experiments/${e.experiment_id}/${what}`, {}); await load(); }
        catch (err) { status.replaceChildren(notice("error", (err as Error).message)); }
      } }, what === "abort" ? "Abort" : "Promote");
      return h("article", { class: "card" },
        h("h2", {}, `${e.name} — ${e.status}`),
        h("p", {}, `${e.control} (control) against ${e.challenger} · ${Math.round(e.traffic_share * 100)} % of users · ${e.metric}`),
        table(["control", "challenger"], [["Arm", (a) => a], ["Users", (a) => fmt(arms[a]?.users)],
          ["Impressions", (a) => fmt(arms[a]?.impressions)], ["Clicks", (a) => fmt(arms[a]?.clicks)],
          ["Conversions", (a) => fmt(arms[a]?.conversions)], [e.currency ? `Revenue (${e.currency})` : "Revenue", (a) => fmt(arms[a]?.revenue, 2)],
          [e.metric, (a) => fmt(arms[a]?.value, 4)]]),
        h("p", {}, `lift ${fmt(e.statistics?.relative_lift, 3)} · p-value ${fmt(e.p_value, 4)} · P(challenger better) ${fmt(e.statistics?.probability_challenger_better, 3)}`),
        e.decision ? h("p", {}, `Decision: ${e.decision.outcome} — ${e.decision.reason}`) : null,
        e.status === "running" ? h("div", {}, act("promote"), " ", act("abort")) : null);
    }));
    if (!experiments.length) list.append(h("p", {}, "No experiments yet."));
  };
  const name = h("input", { required: true }), challenger = h("input", { required: true, placeholder: "v2.0_… or next" });
  const share = h("input", { type: "number", min: "0.01", max: "0.99", step: "0.01", value: "0.1" });
  const metric = h("select", {}, ...["ctr", "conversion", "revenue_per_user"].map((m) => h("option", { value: m }, m)));
  clear(main, h("h1", {}, "Experiments"), status, list,
    h("form", { class: "card", onsubmit: async (e: Event) => {
      e.preventDefault();
      try {
        await api("POST", "/api/v1/experiments", { name: name.value, challenger: challenger.value, traffic_share: Number(share.value), metric: metric.value });
        await load();
      } catch (err) { status.replaceChildren(notice("error", (err as Error).message)); }
    } }, h("h2", {}, "New experiment"), field("Name", name), field("Challenger version", challenger, "the deployed version is the control"),
      field("Challenger's share of users", share), field("Metric", metric), h("button", { type: "submit" }, "Start")));
  await load();
}
