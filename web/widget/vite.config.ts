// Two builds of one source: an ES module for bundlers, and an IIFE for a
// <script> tag (window.RecommendationWidget), served by the gateway at
// /widget.js. EMBEDREC_WEB_OUT (set by `make build`) also copies the IIFE
// where the server finds it.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    target: "es2019",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    lib: {
      entry: "src/index.ts",
      name: "EmbedrecWidget",
      formats: ["es", "iife"],
      fileName: (format) => (format === "es" ? "embedrec-widget.js" : "embedrec-widget.iife.js"),
    },
  },
  test: {
    environment: "happy-dom",
  },
});
