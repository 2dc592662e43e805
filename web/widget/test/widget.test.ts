import { afterEach, describe, expect, it, vi } from "vitest";
import { RecommendationWidget, formatPrice, safeUrl } from "../src/index";

type Call = { url: string; init: RequestInit; body: any };

// A fake API: answers from `reply` (a status and body per call), records the calls.
function fakeFetch(reply: (call: Call, n: number) => { status: number; body?: unknown } | Error) {
  const calls: Call[] = [];
  const f = vi.fn(async (url: string, init: RequestInit) => {
    const call = { url, init, body: JSON.parse(String(init.body)) };
    calls.push(call);
    const r = reply(call, calls.length);
    if (r instanceof Error) throw r;
    return new Response(JSON.stringify(r.body ?? {}), { status: r.status });
  });
  return { f: f as unknown as typeof fetch, calls };
}

const answer = (items: Array<Partial<Record<string, unknown>>>, id = "rec_1") => ({
  user_id: "U1",
  recommendations: items.map((x, i) => ({ item_id: `P${i}`, name: `Item ${i}`, category: "c", price: 10 + i,
                                           image_url: `https://cdn.example.com/P${i}.jpg`, score: 0.9 - i / 10,
                                           reason: "because", ...x })),
  metadata: { recommendation_id: id, model_version: "v1.0_20261201", algorithm: "als" },
});

afterEach(() => {
  document.body.replaceChildren();
  vi.useRealTimers();
});

describe("RecommendationWidget", () => {
  it("asks for the user's recommendations with the key and the context", async () => {
    const { f, calls } = fakeFetch(() => ({ status: 200, body: answer([{}, {}]) }));
    const w = new RecommendationWidget("pk_live_abc", "t-1", { baseUrl: "https://api.shop.test/", fetch: f });
    const a = await w.getRecommendations("U1", { page: "home", device: "mobile", currentItem: "P9", count: 4 });
    expect(a.recommendations.map((r) => r.item_id)).toEqual(["P0", "P1"]);
    expect(calls[0].url).toBe("https://api.shop.test/api/v1/recommendations?tenant_id=t-1");
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBe("Bearer pk_live_abc");
    expect(calls[0].body).toEqual({ user_id: "U1", count: 4,
                                    context: { page: "home", device: "mobile", current_item: "P9" } });
  });

  it("never throws when the API is down: no items, an error, after the retries", async () => {
    const { f, calls } = fakeFetch(() => new TypeError("network down"));
    const w = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f, retries: 2, retryDelayMs: 1 });
    const a = await w.getRecommendations("U1");
    expect(a.recommendations).toEqual([]);
    expect(a.error?.code).toBe("unavailable");
    expect(calls.length).toBe(3);
  });

  it("retries a 503 but not a 401", async () => {
    const down = fakeFetch((_, n) => (n < 3 ? { status: 503 } : { status: 200, body: answer([{}]) }));
    const w = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: down.f, retryDelayMs: 1 });
    expect((await w.getRecommendations("U1")).recommendations.length).toBe(1);
    expect(down.calls.length).toBe(3);
    const refused = fakeFetch(() => ({ status: 401, body: { error: { code: "unauthenticated" } } }));
    const w2 = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: refused.f, retryDelayMs: 1 });
    expect((await w2.getRecommendations("U1")).error).toBeDefined();
    expect(refused.calls.length).toBe(1);
  });

  it("batches tracking and names the answer that showed an item", async () => {
    const { f, calls } = fakeFetch((c) => (c.url.includes("/recommendations") ? { status: 200, body: answer([{}, {}], "rec_7") }
                                                                              : { status: 200, body: { results: [] } }));
    const w = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f, flushIntervalMs: 5 });
    await w.getRecommendations("U1");
    const done = Promise.all([
      w.trackInteraction("U1", "P1", "view"),
      w.trackInteraction("U1", "P1", "add_to_cart"),
      w.trackInteraction("U1", "P5", "purchase", { price: 30, quantity: 1 }),
    ]);
    await done;
    const batches = calls.filter((c) => c.url.includes("/interactions/batch"));
    expect(batches.length).toBe(1);
    const events = batches[0].body.events;
    expect(events.map((e: any) => [e.item_id, e.interaction_type, e.recommendation_id])).toEqual([
      ["P1", "view", "rec_7"], ["P1", "add_to_cart", "rec_7"], ["P5", "purchase", undefined]]);
    expect(events[2].metadata).toEqual({ price: 30, quantity: 1 });
  });

  it("gives tracking up quietly when the API stays down", async () => {
    const { f, calls } = fakeFetch(() => ({ status: 500 }));
    const w = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f, flushIntervalMs: 1, retries: 1,
                                                     retryDelayMs: 1 });
    await expect(w.trackInteraction("U1", "P1", "view")).resolves.toBeUndefined();
    expect(calls.length).toBe(2);
  });

  it("renders names, prices and reasons as text, never as HTML", async () => {
    const evil = "<img src=x onerror=\"window.pwned=1\">";
    const { f } = fakeFetch((c) => (c.url.includes("/recommendations")
      ? { status: 200, body: answer([{ name: evil, reason: "<b>bold</b>", image_url: "javascript:alert(1)" }, {}]) }
      : { status: 200, body: {} }));
    document.body.innerHTML = '<div id="recs"></div>';
    const w = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f });
    await w.renderRecommendations("recs", "U1");
    const cards = document.querySelectorAll("#recs .product-card");
    expect(cards.length).toBe(2);
    expect(cards[0].querySelector("h4")!.textContent).toBe(evil);
    expect(document.querySelector('#recs img[src="x"]')).toBeNull();
    expect(cards[0].querySelector("img")).toBeNull();  // a javascript: URL is not shown
    expect(cards[0].querySelector("b")).toBeNull();
    expect(cards[0].querySelector(".reason")!.textContent).toBe("<b>bold</b>");
    expect(cards[1].querySelector("img")!.getAttribute("src")).toBe("https://cdn.example.com/P1.jpg");
    expect((window as any).pwned).toBeUndefined();
  });

  it("tracks the impression and a clicked card's view with the answer's id", async () => {
    const { f, calls } = fakeFetch((c) => (c.url.includes("/recommendations") ? { status: 200, body: answer([{}, {}], "rec_9") }
                                                                              : { status: 200, body: {} }));
    document.body.innerHTML = '<div id="recs"></div>';
    const w = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f, flushIntervalMs: 60000 });
    await w.renderRecommendations("recs", "U1");
    const selected: string[] = [];
    document.addEventListener("embedrec:select", (e) => selected.push((e as CustomEvent).detail.item.item_id));
    (document.querySelectorAll("#recs .product-card")[1] as HTMLElement).click();
    await w.flush();
    const events = calls.filter((c) => c.url.includes("/interactions/batch")).flatMap((c) => c.body.events);
    expect(events.map((e: any) => [e.interaction_type, e.item_id, e.recommendation_id])).toEqual([
      ["recommendations_shown", undefined, "rec_9"], ["view", "P1", "rec_9"]]);
    expect(selected).toEqual(["P1"]);
  });

  it("shows prices in the shop's currency, or the page's choice", async () => {
    const body = answer([{ price: 1299 }, { price: 5.5 }]);
    (body.metadata as Record<string, unknown>).currency = "EUR";
    const { f } = fakeFetch((c) => (c.url.includes("/recommendations") ? { status: 200, body } : { status: 200, body: {} }));
    document.body.innerHTML = '<div id="recs"></div>';
    const prices = () => [...document.querySelectorAll("#recs .price")].map((p) => p.textContent!.replace(/\s/g, " "));
    await new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f, locale: "de-DE" }).renderRecommendations("recs", "U1");
    expect(prices()).toEqual(["1.299,00 €", "5,50 €"]);
    await new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f, locale: "en-US", currency: "GBP" })
      .renderRecommendations("recs", "U1");
    expect(prices()).toEqual(["£1,299.00", "£5.50"]);
    delete (body.metadata as Record<string, unknown>).currency;  // the shop names none: the dollar as before
    await new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f }).renderRecommendations("recs", "U1");
    expect(prices()).toEqual(["$1299.00", "$5.50"]);
  });

  it("shows a product's similar items and names their answer in what the shopper does", async () => {
    const similar = {
      item_id: "P9",
      similar_items: [{ item_id: "S1", name: "<i>One</i>", category: "c", price: 5, image_url: "https://cdn.example.com/S1.jpg",
                        similarity_score: 0.9 },
                      { item_id: "S2", name: "Two", category: "c", price: null, image_url: "", similarity_score: 0.8 }],
      metadata: { recommendation_id: "rec_s", algorithm: "lightgcn", currency: "EUR" },
    };
    const { f, calls } = fakeFetch((c) => (c.url.includes("/similar") ? { status: 200, body: similar } : { status: 200, body: {} }));
    document.body.innerHTML = '<div id="similar"></div>';
    const w = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f, flushIntervalMs: 60000, locale: "en-US" });
    const a = await w.renderSimilarItems("similar", "U1", "P9", { count: 4, filters: { in_stock: true } });
    expect(a?.similar_items.length).toBe(2);
    expect(calls[0].url).toBe("http://x/api/v1/recommendations/similar?tenant_id=t");
    expect(calls[0].body).toEqual({ item_id: "P9", count: 4, filters: { in_stock: true } });
    expect(document.querySelector("#similar h3")!.textContent).toBe("Similar items");
    const cards = [...document.querySelectorAll("#similar .product-card")];
    expect(cards.map((c) => (c as HTMLElement).dataset.itemId)).toEqual(["S1", "S2"]);
    expect(cards[0].querySelector("h4")!.textContent).toBe("<i>One</i>");  // as text
    expect(cards[0].querySelector(".price")!.textContent).toBe("\u20ac5.00");
    expect(cards[1].querySelector(".price")).toBeNull();
    (cards[1] as HTMLElement).click();
    void w.trackInteraction("U1", "S1", "add_to_cart");  // a shown item's later event names the answer too
    await w.flush();
    const events = calls.filter((c) => c.url.includes("/interactions/batch")).flatMap((c) => c.body.events);
    expect(events.map((e: any) => [e.interaction_type, e.item_id, e.recommendation_id])).toEqual([
      ["recommendations_shown", undefined, "rec_s"], ["view", "S2", "rec_s"], ["add_to_cart", "S1", "rec_s"]]);
    const down = fakeFetch(() => ({ status: 503 }));
    const w2 = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: down.f, retries: 0 });
    expect((await w2.getSimilarItems("P9")).error?.code).toBe("unavailable");
    expect(document.querySelectorAll("#similar .product-card").length).toBe(2);  // left as it was
  });

  it("leaves the container as it was when there is nothing to show", async () => {
    const { f } = fakeFetch(() => ({ status: 503 }));
    document.body.innerHTML = '<div id="recs"><p>fallback</p></div>';
    const w = new RecommendationWidget("k", "t", { baseUrl: "http://x", fetch: f, retries: 0 });
    const a = await w.renderRecommendations("recs", "U1");
    expect(a?.error).toBeDefined();
    expect(document.getElementById("recs")!.textContent).toBe("fallback");
    expect(await w.renderRecommendations("missing", "U1")).toBeNull();
  });
});

describe("formatPrice", () => {
  it("writes the currency's sign and digits for the locale, and falls back to the dollar", () => {
    expect(formatPrice(12.5, "JPY", "ja-JP")).toMatch(/^[￥¥]13$/);  // the yen has no minor unit
    expect(formatPrice(12.5, "not a code", "en-US")).toBe("$12.50");
    expect(formatPrice(12.5, undefined, "de-DE")).toBe("$12.50");
  });
});

describe("safeUrl", () => {
  it("keeps http(s) URLs only", () => {
    expect(safeUrl("https://a.test/x.jpg")).toBe("https://a.test/x.jpg");
    expect(safeUrl("javascript:alert(1)")).toBeUndefined();
    expect(safeUrl("data:text/html,hi")).toBeUndefined();
    expect(safeUrl(42)).toBeUndefined();
  });
});
