// The console's build: index.html and hashed assets under assets/, which
// the gateway serves at / and /assets/* (src/api/web_assets.cc).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: { target: "es2020", outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 600 },
});
