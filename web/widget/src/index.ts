// The embedrec widget: a shop's pages ask for recommendations, show them,
// and report what shoppers do with them — views, add-to-carts, purchases —
// naming the answer each item came from, so the dashboard can attribute
// clicks and revenue to the recommendations.
//
//   const widget = new RecommendationWidget("pk_live_…", "<tenant id>");
//   widget.renderRecommendations("recommendations-container", "USER_1");
//   widget.renderSimilarItems("similar-container", "USER_1", "PROD_9");  // a product page
//   widget.trackInteraction("USER_1", "PROD_9", "add_to_cart");
//
// Safe on a host page: everything shown is set as text or checked URLs (never
// HTML from the API); no call ever throws or rejects into the page — when
// the API is down, recommendations come back empty and tracking retries
// with backoff, then gives up quietly. Tracking is batched (one request per
// second at most, or per 50 events) and flushed when the page is hidden.
// No runtime dependencies.

export interface RecommendationContext {
  page?: string;
  device?: string;
  currentItem?: string;
  timeOfDay?: string;
  filters?: Record<string, unknown>;
  count?: number;
}

export interface RecommendedItem {
  item_id: string;
  name: string;
  category: string;
  price: number | null;
  image_url: string;
  score: number;
  reason: string;
  [field: string]: unknown;
}

export interface RecommendationsAnswer {
  user_id?: string;
  recommendations: RecommendedItem[];
  metadata: {
    model_version?: string | null;
    algorithm?: string;
    recommendation_id?: string;
    experiment_id?: string | null;
    arm?: string | null;
    // What the prices are in (the shop's settings.currency, ISO 4217); absent when it names none.
    currency?: string;
    [field: string]: unknown;
  } | null;
  // Set instead of throwing when the API could not answer.
  error?: { code: string; message: string };
}

export interface SimilarItem {
  item_id: string;
  name: string;
  category: string;
  price: number | null;
  image_url: string;
  similarity_score: number;
  [field: string]: unknown;
}

export interface SimilarItemsAnswer {
  item_id?: string;
  similar_items: SimilarItem[];
  metadata: RecommendationsAnswer["metadata"];
  // Set instead of throwing when the API could not answer.
  error?: { code: string; message: string };
}

export interface SimilarOptions {
  count?: number;
  filters?: Record<string, unknown>;
  // The heading above the rendered list (default "Similar items"; "" for none).
  title?: string;
}

export interface WidgetOptions {
  // Where the API is; default: the origin that served this script (or the page's).
  baseUrl?: string;
  // Recommendations per request (default 10).
  count?: number;
  // The heading above the rendered list ("" for none).
  title?: string;
  // Tracking: events are sent at most this often, or when `batchSize` are waiting.
  flushIntervalMs?: number;
  batchSize?: number;
  // Attempts per request after the first (with exponential backoff from `retryDelayMs`).
  retries?: number;
  retryDelayMs?: number;
  // How prices are shown: in this currency (an ISO 4217 code; default: the
  // answer's metadata.currency, the shop's settings.currency; "$" before the
  // amount when neither names one), written for this locale (default: the
  // browser's).
  currency?: string;
  locale?: string;
  // The fetch to use (tests; default: the page's).
  fetch?: typeof fetch;
}

export interface TrackOptions {
  recommendationId?: string;
  // A purchase's unit price and quantity (sent as metadata.price and
  // metadata.quantity: the revenue attributed to the recommendation).
  price?: number;
  quantity?: number;
  context?: Record<string, string>;
  metadata?: Record<string, unknown>;
}

interface TrackedEvent {
  user_id: string;
  item_id?: string;
  interaction_type: string;
  timestamp: string;
  recommendation_id?: string;
  context?: Record<string, string>;
  metadata?: Record<string, unknown>;
}

// The origin of the script element that is running now (a <script src> tag),
// read once while this file is evaluated.
const SCRIPT_ORIGIN: string | undefined = (() => {
  try {
    const script = typeof document !== "undefined" ? (document.currentScript as HTMLScriptElement | null) : null;
    return script && script.src ? new URL(script.src).origin : undefined;
  } catch {
    return undefined;
  }
})();

// A price as the page shows it: in `currency` (an ISO code) written for
// `locale` ("1.299,00 €" in a German page), or "$" and two decimals when no
// currency is known (or the code or locale is not one the browser knows).
export function formatPrice(price: number, currency?: string, locale?: string): string {
  if (currency) {
    try {
      return new Intl.NumberFormat(locale, { style: "currency", currency }).format(price);
    } catch {
      // An unknown code or locale: the plain form below.
    }
  }
  return "$" + price.toFixed(2);
}

// http(s) URLs only: anything else (javascript:, data:) is not shown.
export function safeUrl(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  try {
    const base = typeof location !== "undefined" ? location.href : "http://localhost/";
    const url = new URL(value, base);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RecommendationWidget {
  readonly apiKey: string;
  readonly tenantId: string;
  readonly baseUrl: string;
  private readonly options: Required<Omit<WidgetOptions, "baseUrl" | "fetch" | "currency" | "locale">>;
  private readonly currency: string | undefined;
  private readonly locale: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private queue: TrackedEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private waiting: Array<() => void> = [];  // resolves of the queued events' promises
  // The answer each shown item came from, so later events name it.
  private readonly shownBy = new Map<string, string>();

  constructor(apiKey: string, tenantId: string, options: WidgetOptions = {}) {
    this.apiKey = apiKey;
    this.tenantId = tenantId;
    const fallback = typeof location !== "undefined" ? location.origin : "";
    this.baseUrl = (options.baseUrl ?? SCRIPT_ORIGIN ?? fallback).replace(/\/+$/, "");
    this.options = {
      count: options.count ?? 10,
      title: options.title ?? "Recommended For You",
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      batchSize: options.batchSize ?? 50,
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 300,
    };
    this.currency = options.currency;
    this.locale = options.locale;
    const f = options.fetch ?? (typeof fetch !== "undefined" ? fetch : undefined);
    this.fetchImpl = f ? f.bind(globalThis) : ((() => Promise.reject(new Error("no fetch"))) as typeof fetch);
    if (typeof document !== "undefined" && typeof addEventListener !== "undefined") {
      // Whatever is waiting goes out before the page is left.
      addEventListener("pagehide", () => void this.flush(true));
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "hidden") void this.flush(true);
      });
    }
  }

  // The user's recommendations. Never throws: on failure the answer has no
  // items and an `error`.
  async getRecommendations(userId: string, context: RecommendationContext = {}): Promise<RecommendationsAnswer> {
    const ctx: Record<string, string> = {};
    if (context.page) ctx.page = context.page;
    if (context.device) ctx.device = context.device;
    if (context.currentItem) ctx.current_item = context.currentItem;
    if (context.timeOfDay) ctx.time_of_day = context.timeOfDay;
    const body: Record<string, unknown> = { user_id: userId, count: context.count ?? this.options.count, context: ctx };
    if (context.filters) body.filters = context.filters;
    return this.askForItems<RecommendationsAnswer>("/api/v1/recommendations", body, (a) => a.recommendations,
                                                   { recommendations: [], metadata: null });
  }

  // Items similar to `itemId` (never the item itself), for a product page.
  // Never throws: on failure the answer has no items and an `error`.
  async getSimilarItems(itemId: string, options: SimilarOptions = {}): Promise<SimilarItemsAnswer> {
    const body: Record<string, unknown> = { item_id: itemId, count: options.count ?? this.options.count };
    if (options.filters) body.filters = options.filters;
    return this.askForItems<SimilarItemsAnswer>("/api/v1/recommendations/similar", body, (a) => a.similar_items,
                                                { similar_items: [], metadata: null });
  }

  // POSTs a request for items (the answer's `items(answer)`) and remembers
  // the answer that showed each. Never throws: on failure, `empty` with an `error`.
  private async askForItems<A extends { metadata: RecommendationsAnswer["metadata"]; error?: unknown }>(
      path: string, body: unknown, items: (answer: A) => unknown, empty: A): Promise<A> {
    try {
      const answer = (await this.post(path, body)) as A;
      const list = answer ? items(answer) : undefined;
      if (!Array.isArray(list)) throw new Error("unexpected answer");
      const id = answer.metadata?.recommendation_id;
      if (id) for (const item of list as Array<{ item_id: string }>) this.shownBy.set(item.item_id, id);
      return answer;
    } catch (e) {
      return { ...empty, error: { code: "unavailable", message: String(e) } };
    }
  }

  // Queues an event (sent in a batch). A shown item's event names the
  // answer that showed it unless `options.recommendationId` does. Resolves
  // once the batch holding it was sent (or given up on); never rejects.
  trackInteraction(userId: string, itemId: string | null, interactionType: string,
                   options: TrackOptions = {}): Promise<void> {
    const event: TrackedEvent = { user_id: userId, interaction_type: interactionType,
                                  timestamp: new Date().toISOString() };
    if (itemId) event.item_id = itemId;
    const rec = options.recommendationId ?? (itemId ? this.shownBy.get(itemId) : undefined);
    if (rec) event.recommendation_id = rec;
    if (options.context) event.context = options.context;
    const metadata: Record<string, unknown> = { ...(options.metadata ?? {}) };
    if (options.price !== undefined) metadata.price = options.price;
    if (options.quantity !== undefined) metadata.quantity = options.quantity;
    if (Object.keys(metadata).length > 0) event.metadata = metadata;
    this.queue.push(event);
    if (this.queue.length >= this.options.batchSize) return this.flush();
    return new Promise<void>((resolve) => {
      if (this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.flush();
        }, this.options.flushIntervalMs);
      }
      // Resolved by the flush that takes this event.
      this.waiting.push(resolve);
    });
  }

  // Sends what is queued now. `leaving`: the page is being left (no retries).
  flush(leaving = false): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const events = this.queue.splice(0, this.queue.length);
    const waiting = this.waiting.splice(0, this.waiting.length);
    if (events.length === 0) {
      waiting.forEach((w) => w());
      return this.flushing;
    }
    // Batches go out one after another, in order.
    this.flushing = this.flushing.then(async () => {
      for (let i = 0; i < events.length; i += 500) {
        try {
          await this.post("/api/v1/interactions/batch", { events: events.slice(i, i + 500) }, leaving);
        } catch {
          // Given up after the retries: tracking never breaks the page.
        }
      }
      waiting.forEach((w) => w());
    });
    return this.flushing;
  }

  // Fetches and shows the user's recommendations in the element with id
  // `containerId`; views are tracked when a card is clicked, and the
  // impression when the list is shown. The answer, or null when nothing could be shown.
  async renderRecommendations(containerId: string, userId: string,
                              context: RecommendationContext = {}): Promise<RecommendationsAnswer | null> {
    if (typeof document === "undefined") return null;
    const container = document.getElementById(containerId);
    if (!container) return null;
    const data = await this.getRecommendations(userId, { page: "homepage", device: this.getDeviceType(), ...context });
    if (data.error || data.recommendations.length === 0) return data;
    this.show(container, this.options.title, data.recommendations, data.metadata, userId);
    return data;
  }

  // Shows the items similar to `itemId` (a product page's "similar items")
  // in the element with id `containerId`, as renderRecommendations shows a
  // user's: a clicked card's view and the impression name the answer (the
  // shopper `userId`'s). The answer, or null when nothing could be shown.
  async renderSimilarItems(containerId: string, userId: string, itemId: string,
                           options: SimilarOptions = {}): Promise<SimilarItemsAnswer | null> {
    if (typeof document === "undefined") return null;
    const container = document.getElementById(containerId);
    if (!container) return null;
    const data = await this.getSimilarItems(itemId, options);
    if (data.error || data.similar_items.length === 0) return data;
    this.show(container, options.title ?? "Similar items", data.similar_items, data.metadata, userId);
    return data;
  }

  // Replaces the container's content with a card per item, and tracks the impression.
  private show(container: HTMLElement, title: string, items: Array<RecommendedItem | SimilarItem>,
               metadata: RecommendationsAnswer["metadata"], userId: string): void {
    const recommendationId = metadata?.recommendation_id;
    const root = document.createElement("div");
    root.className = "embedrec-widget";
    if (title) {
      const h = document.createElement("h3");
      h.textContent = title;
      root.appendChild(h);
    }
    const grid = document.createElement("div");
    grid.className = "recommendations-grid";
    grid.setAttribute("role", "list");
    const meta = metadata?.currency;
    const currency = this.currency ?? (typeof meta === "string" ? meta : undefined);
    for (const item of items) grid.appendChild(this.card(item, userId, recommendationId, currency));
    root.appendChild(grid);
    container.replaceChildren(root);
    void this.trackInteraction(userId, null, "recommendations_shown", { recommendationId });
  }

  getDeviceType(): "mobile" | "desktop" {
    return typeof window !== "undefined" && window.innerWidth < 768 ? "mobile" : "desktop";
  }

  private card(item: RecommendedItem | SimilarItem, userId: string, recommendationId: string | undefined,
               currency: string | undefined): HTMLElement {
    const card = document.createElement("div");
    card.className = "product-card";
    card.setAttribute("role", "listitem");
    card.tabIndex = 0;
    card.dataset.itemId = String(item.item_id);
    const image = safeUrl(item.image_url);
    if (image) {
      const img = document.createElement("img");
      img.src = image;
      img.alt = String(item.name ?? "");
      img.loading = "lazy";
      card.appendChild(img);
    }
    const name = document.createElement("h4");
    name.textContent = String(item.name ?? item.item_id);
    card.appendChild(name);
    if (typeof item.price === "number") {
      const price = document.createElement("p");
      price.className = "price";
      price.textContent = formatPrice(item.price, currency, this.locale);
      card.appendChild(price);
    }
    if (typeof item.score === "number") {
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = `${Math.round(item.score * 100)}% match`;
      card.appendChild(score);
    }
    if (typeof item.reason === "string" && item.reason) {
      const reason = document.createElement("p");
      reason.className = "reason";
      reason.textContent = String(item.reason);
      card.appendChild(reason);
    }
    const open = () => {
      void this.trackInteraction(userId, item.item_id, "view", { recommendationId });
      card.dispatchEvent(new CustomEvent("embedrec:select", { bubbles: true, detail: { item, recommendationId } }));
    };
    card.addEventListener("click", open);
    card.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") open();
    });
    return card;
  }

  // POSTs JSON with the key; retries network failures, 429 and 5xx with
  // exponential backoff. Resolves to the answer's JSON; rejects after the last try.
  private async post(path: string, body: unknown, leaving = false): Promise<unknown> {
    const attempts = leaving ? 1 : 1 + this.options.retries;
    let last: unknown;
    for (let attempt = 0; attempt < attempts; ++attempt) {
      if (attempt > 0) await sleep(this.options.retryDelayMs * 2 ** (attempt - 1));
      try {
        const res = await this.fetchImpl(`${this.baseUrl}${path}?tenant_id=${encodeURIComponent(this.tenantId)}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${this.apiKey}`, "Content-Type": "application/json" },
          body: JSON.stringify(body),
          keepalive: leaving,
          credentials: "omit",
        });
        if (res.ok || res.status === 207) return await res.json();
        last = new Error(`HTTP ${res.status}`);
        if (res.status !== 429 && res.status < 500) break;  // a refusal does not change by retrying
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }
}

// A <script src=".../widget.js"> tag: the class as the seed names it.
if (typeof window !== "undefined") {
  const w = window as unknown as { RecommendationWidget?: typeof RecommendationWidget };
  if (!w.RecommendationWidget) w.RecommendationWidget = RecommendationWidget;
}
