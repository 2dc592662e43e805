// Drives Debian's Chromium (playwright-core; never a downloaded browser) on
// a demo shop page that embeds the widget with one <script> tag, as a
// shopper would: the page shows recommendations, the shopper opens one (its
// page shows similar items) and buys it. Prints what the page showed as JSON
// for the calling test (tests/e2e/test_widget_browser.py), which checks it
// and the dashboard.
//
//   node e2e/demo_shop.mjs <page url> <screenshot dir>
import { chromium } from "playwright-core";

const [pageUrl, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const out = { errors: [], console: [] };
try {
  for (const [name, viewport] of [["desktop", { width: 1280, height: 900 }], ["phone", { width: 390, height: 844 }]]) {
    const page = await browser.newPage({ viewport });
    page.on("pageerror", (e) => out.errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") out.console.push(m.text()); });
    await page.goto(pageUrl);
    await page.waitForSelector("#recommendations .product-card", { timeout: 20000 });
    await page.screenshot({ path: `${shots}/demo-shop-${name}.png`, fullPage: true });
    if (name !== "desktop") {
      await page.close();
      continue;
    }
    out.names = await page.$$eval("#recommendations .product-card h4", (els) => els.map((e) => e.textContent));
    out.images = await page.$$eval("#recommendations img", (els) => els.map((e) => e.getAttribute("src")));
    out.reasons = await page.$$eval("#recommendations .reason", (els) => els.map((e) => e.textContent));
    out.prices = await page.$$eval("#recommendations .price", (els) => els.map((e) => e.textContent));
    out.cards = out.names.length;
    // The shopper opens the second card (a view naming the answer), then buys it.
    await page.click("#recommendations .product-card >> nth=1");
    await page.waitForSelector("#similar .product-card", { timeout: 20000 });
    out.similar = await page.$$eval("#similar .product-card", (els) => els.map((e) => e.dataset.itemId));
    await page.click("#buy");
    await page.evaluate(() => window.widget.flush());
    out.opened = await page.evaluate(() => window.opened?.item_id ?? null);
    out.pwned = await page.evaluate(() => window.pwned ?? null);
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
