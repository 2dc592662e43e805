// Keys, data, training and models.
import { api, events, upload, ApiError } from "./api";
import { lineChart, Series } from "./charts";
import { clear, field, fmt, h, notice, table } from "./dom";

const fail = (box: HTMLElement, err: unknown) => box.replaceChildren(notice("error", (err as Error).message));
const when = (s: string | null | undefined) => (s ? new Date(s).toLocaleString() : "—");

// A key's end: "never", the date, or that it has passed (calls with it get 401).
const expiry = (s: string | null | undefined): HTMLElement | string => {
  if (!s) return "never";
  const at = new Date(s);
  return at.getTime() <= Date.now() ? h("span", { class: "expired" }, `expired ${at.toLocaleString()}`) : at.toLocaleString();
};

// ---- API keys: create (the secret once), an optional end, list, revoke.
export async function keysPage(main: HTMLElement): Promise<void> {
  const list = h("div");
  const created = h("div", { "aria-live": "polite" });
  const load = async () => {
    const { api_keys } = await api("GET", "/api/v1/api-keys");
    clear(list, table(api_keys, [
      ["Name", (k: any) => k.name], ["Type", (k: any) => k.type], ["Prefix", (k: any) => h("code", {}, k.key_prefix + "…")],
      ["Scopes", (k: any) => k.scopes.join(", ")], ["Last used", (k: any) => when(k.last_used_at)],
      ["Expires", (k: any) => expiry(k.expires_at)],
      ["", (k: any) => h("button", { class: "danger", onclick: async () => {
        if (!confirm(`Revoke ${k.name}? Calls with it stop at once.`)) return;
        try { await api("DELETE", `/api/v1/api-keys/${k.id}`); await load(); } catch (e) { fail(created, e); }
      } }, "Revoke")]], "Keys"));
  };
  const name = h("input", { required: true, value: "web" });
  const days = h("input", { type: "number", min: 1, max: 3650, step: 1, inputmode: "numeric", placeholder: "never" });
  const type = h("select", {}, h("option", { value: "secret" }, "secret (servers)"),
                 h("option", { value: "publishable" }, "publishable (web pages)"));
  const scopes = ["recommendations:read", "interactions:write", "data:write", "models:train", "models:read", "analytics:read"]
    .map((s) => h("input", { type: "checkbox", value: s, checked: s.startsWith("recommendations") || s.startsWith("interactions") }));
  clear(main, h("h1", {}, "API keys"), list,
    h("form", { class: "card", onsubmit: async (e: Event) => {
      e.preventDefault();
      try {
        const body: any = { name: name.value, type: type.value };
        body.scopes = scopes.filter((c) => c.checked).map((c) => c.value);
        if (days.value.trim()) body.expires_in_days = Number(days.value);
        const k = await api("POST", "/api/v1/api-keys", body);
        const secret = h("input", { readonly: true, value: k.api_key, class: "secret", "aria-label": "The new key" });
        clear(created, h("div", { class: "card reveal" },
          notice("warn", "Copy this key now: it is shown only once."), secret,
          h("button", { type: "button", onclick: async () => {
            secret.select();
            try { await navigator.clipboard.writeText(k.api_key); } catch { document.execCommand("copy"); }
          } }, "Copy")));
        await load();
      } catch (err) { fail(created, err); }
    } }, h("h2", {}, "New key"), field("Name", name), field("Type", type),
      field("Expires after (days)", days, "Empty: the key works until it is revoked. At most 3,650 days."),
      h("fieldset", {}, h("legend", {}, "Scopes"), ...scopes.map((c) => h("label", { class: "check" }, c, c.value))),
      h("button", { type: "submit" }, "Create key")), created);
  await load();
}

// ---- Data: uploads with progress, their errors, the quality report, history.
export async function dataPage(main: HTMLElement): Promise<void> {
  const history = h("div"), quality = h("div");
  const loadHistory = async () => {
    const { uploads } = await api("GET", "/api/v1/data/uploads");
    clear(history, table(uploads, [["When", (u: any) => when(u.created_at)], ["Kind", (u: any) => u.kind],
      ["Accepted", (u: any) => fmt(u.result?.rows_accepted)], ["Rejected", (u: any) => fmt(u.result?.rows_rejected)],
      ["Id", (u: any) => h("code", {}, u.upload_id)]], "Upload history"));
  };
  const loadQuality = async () => {
    const q = await api("GET", "/api/v1/data/quality");
    const rows = Object.entries(q).filter(([, v]) => typeof v !== "object" || v === null);
    clear(quality, table(rows, [["Figure", ([k]) => k.replace(/_/g, " ")], ["Value", ([, v]) => fmt(v)]], "Data quality"),
      ...(Array.isArray(q.warnings) && q.warnings.length ? [h("ul", {}, ...q.warnings.map((w: any) => h("li", {}, typeof w === "string" ? w : w.message ?? JSON.stringify(w))))] : []));
  };
  const uploader = (kind: "items" | "interactions", title: string) => {
    const file = h("input", { type: "file", accept: ".csv,text/csv" });
    const bar = h("progress", { max: "1", value: "0", "aria-label": `${title} upload progress` });
    const stage = h("span", { class: "stage" });
    const result = h("div", { "aria-live": "polite" });
    return h("form", { class: "card upload", "data-kind": kind, onsubmit: async (e: Event) => {
      e.preventDefault();
      const f = file.files?.[0];
      if (!f) return;
      clear(result);
      stage.textContent = "sending…";
      try {
        const r = await upload(`/api/v1/upload/${kind}`, f, (x) => {
          bar.value = x;
          stage.textContent = x < 1 ? `sending ${Math.round(x * 100)} %` : "processing rows…";
        }, (lines) => { if (lines > 0) stage.textContent = `processing: ${lines.toLocaleString("en")} rows read`; });
        stage.textContent = `done: ${fmt(r.rows_accepted)} rows accepted, ${fmt(r.rows_rejected)} rejected`;
        result.append(notice(r.rows_rejected ? "warn" : "ok", `${fmt(r.rows_accepted)} accepted · ${fmt(r.rows_rejected)} rejected · ${fmt(r.duplicates_removed)} duplicates removed`));
        if (r.validation_errors?.length) {
          result.append(table(r.validation_errors, [["Row", (x: any) => x.row], ["Error", (x: any) => x.error]], "Validation errors"));
        }
        await Promise.all([loadHistory(), loadQuality()]);
      } catch (err) { stage.textContent = "failed"; fail(result, err); }
    } }, h("h2", {}, title), field("CSV file", file), h("div", { class: "progress" }, bar, stage),
      h("button", { type: "submit" }, "Upload"), result);
  };
  clear(main, h("h1", {}, "Data"), h("div", { class: "grid2" }, uploader("items", "Items"), uploader("interactions", "Interactions")),
    quality, history);
  await Promise.all([loadHistory(), loadQuality().catch((e) => fail(quality, e))]);
}

// ---- Training: a job, its live progress and curves, the history.
interface HyperField { name: string; min?: number; max?: number; step: string; help: string }

// The job request's documented model types and numeric hyperparameters
// (with their ranges), read from the server's own OpenAPI document. A blend
// (its parts a list) is asked for through the API, not this form.
async function trainSchema(): Promise<{ types: string[]; hyper: HyperField[] }> {
  const doc = await (await fetch("/openapi.json")).json();
  const body = doc.paths?.["/api/v1/train"]?.post?.requestBody?.content?.["application/json"]?.schema ?? {};
  const props = body.properties ?? {};
  const hyper = Object.entries<any>(props.hyperparameters?.properties ?? {}).filter(([, p]) => p.type === "number").map(([name, p]) => ({
    name, min: p.minimum, max: p.maximum, step: p.multipleOf === 1 ? "1" : "any",
    help: `${p.minimum ?? ""}–${p.maximum ?? ""}${p.description ? " · " + p.description : ""}` }));
  const types: string[] = props.model_type?.enum ?? ["auto", "lightgcn", "als", "popularity"];
  return { types: types.filter((t) => t !== "blend"), hyper };
}

export async function trainingPage(main: HTMLElement): Promise<void> {
  const schema = await trainSchema();
  const jobs = h("div"), live = h("div", { "aria-live": "polite" });
  const loadJobs = async () => {
    const { jobs: list } = await api("GET", "/api/v1/training?limit=20");
    clear(jobs, table(list, [["Job", (j: any) => h("code", {}, j.job_id)], ["Type", (j: any) => j.model_type],
      ["Status", (j: any) => j.status], ["Version", (j: any) => j.model_version ?? "—"],
      ["Deployment", (j: any) => j.deployment_status ?? "—"], ["By", (j: any) => j.started_by ?? "—"],
      ["", (j: any) => h("button", { onclick: () => watch(j.job_id) }, "Watch")]], "Jobs"));
  };
  const type = h("select", {}, ...schema.types.map((t) => h("option", { value: t }, t)));
  const mode = h("select", {}, h("option", { value: "full" }, "full"), h("option", { value: "incremental" }, "incremental"));
  const deploy = h("input", { type: "checkbox", checked: true });
  const hyper = schema.hyper.map((f) => [f.name, h("input", { type: "number", step: f.step, min: f.min, max: f.max, "data-name": f.name }), f.help] as const);
  let abort: AbortController | null = null;
  const watch = (jobId: string) => {
    abort?.abort();
    abort = new AbortController();
    const status = h("p", { class: "stage" }, "connecting…");
    const bar = h("progress", { max: "1", value: "0", "aria-label": "training progress" });
    const epochs: number[] = [], loss: Array<number | null> = [], ndcg: Array<number | null> = [];
    const chart = lineChart("Training loss and validation ndcg@10 by epoch", [], [{ label: "loss", values: [] }, { label: "val ndcg@10", values: [] }], false);
    const trials = h("div");
    clear(live, h("div", { class: "card", "data-job": jobId }, h("h2", {}, `Job ${jobId}`), bar, status, chart.el, trials));
    void events(`/api/v1/training/${jobId}/events`, (_name, d) => {
      bar.value = d.progress ?? 0;
      status.textContent = `${d.status}${d.current_epoch ? ` · epoch ${d.current_epoch}/${d.total_epochs ?? "?"}` : ""}` +
        (d.deployment_status ? ` · ${d.deployment_status}` : "") + (d.error ? ` · ${d.error.message}` : "");
      // The record keeps the fit's curve: drawn whole from it, whichever
      // events this page saw (a fast job may finish before the second).
      const curve: any[] = Array.isArray(d.curve) ? d.curve : [];
      if (curve.length && curve[curve.length - 1].epoch !== epochs[epochs.length - 1]) {
        epochs.length = loss.length = ndcg.length = 0;
        for (const p of curve) {
          epochs.push(p.epoch);
          loss.push(typeof p.train_loss === "number" ? p.train_loss : null);
          ndcg.push(typeof p["val_ndcg@10"] === "number" ? p["val_ndcg@10"] : null);
        }
        chart.update(epochs, [{ label: "loss", values: loss }, { label: "val ndcg@10", values: ndcg }] as Series[]);
      }
      if (Array.isArray(d.trials) && d.trials.length) {
        clear(trials, table(d.trials, [["Trial", (t: any) => t.model_type ?? "—"], ["Status", (t: any) => t.status ?? "—"],
          ["val ndcg@10", (t: any) => fmt(t["val_ndcg@10"])], ["Epochs", (t: any) => fmt(t.epochs_run)],
          ["Seconds", (t: any) => fmt(t.seconds, 1)]], "Auto search trials"));
      }
      if (["completed", "failed", "cancelled"].includes(d.status)) void loadJobs();
    }, abort.signal).catch((e) => { if ((e as Error).name !== "AbortError") status.textContent = (e as Error).message; });
  };
  const form = h("form", { class: "card", onsubmit: async (e: Event) => {
    e.preventDefault();
    const hyperparameters: Record<string, number> = {};
    for (const [name, input] of hyper) if (input.value) hyperparameters[name] = Number(input.value);
    try {
      const job = await api("POST", "/api/v1/train", { model_type: type.value, training_mode: mode.value, auto_deploy: deploy.checked, hyperparameters });
      watch(job.job_id);
      await loadJobs();
    } catch (err) { fail(live, err); }
  } }, h("h2", {}, "Train a model"), field("Model type", type, "auto tries several and keeps the best"),
    field("Mode", mode), h("label", { class: "check" }, deploy, "Deploy when it beats the model in use"),
    h("details", {}, h("summary", {}, "Hyperparameters (empty: the defaults; ranges as documented)"),
      h("div", { class: "hyper" }, ...hyper.map(([name, input, range]) => field(name, input, range)))),
    h("button", { type: "submit" }, "Start training"));
  clear(main, h("h1", {}, "Training"), form, live, jobs);
  await loadJobs();
}

// ---- Models: versions, metrics, lift; deploy, delete.
export async function modelsPage(main: HTMLElement): Promise<void> {
  const box = h("div"), status = h("div", { "aria-live": "polite" });
  const load = async () => {
    const { models, serving_version } = await api("GET", "/api/v1/models");
    clear(box, table(models, [["Version", (m: any) => h("code", {}, m.version)], ["Type", (m: any) => m.model_type],
      ["Status", (m: any) => m.version === serving_version ? "serving" : m.status],
      ["ndcg@10", (m: any) => fmt(m.metrics?.["ndcg@10"])],
      ["Lift over popularity", (m: any) => typeof m.metrics?.lift?.["ndcg@10"] === "number" ? `×${m.metrics.lift["ndcg@10"].toFixed(2)}` : "—"],
      ["Created", (m: any) => when(m.created_at)],
      ["", (m: any) => m.version === serving_version ? "" : h("span", {},
        h("button", { onclick: async () => {
          try { await api("POST", `/api/v1/models/${m.version}/deploy`, {}); status.replaceChildren(notice("ok", `${m.version} deployed`)); await load(); }
          catch (e) { fail(status, e); }
        } }, "Deploy"), " ",
        h("button", { class: "danger", onclick: async () => {
          if (!confirm(`Delete ${m.version}?`)) return;
          try { await api("DELETE", `/api/v1/models/${m.version}`); await load(); } catch (e) { fail(status, e); }
        } }, "Delete"))]], "Model versions"));
  };
  clear(main, h("h1", {}, "Models"), status, box);
  await load().catch((e) => { if (!(e instanceof ApiError)) throw e; fail(status, e); });
}
