// The study app's build: app/ -> dist/ (committed; embedded in the binary by src/lib.rs).
// `npm run dev` serves app/ with hot reload and proxies the API to FLASHFORGE_API
// (default http://127.0.0.1:8080), so the dev server and `flashforge serve` run side by side.
import path from "node:path";
import { defineConfig } from "vite";

const api = process.env["FLASHFORGE_API"] ?? "http://127.0.0.1:8080";
const here = path.dirname(new URL(import.meta.url).pathname);

export default defineConfig({
  root: path.join(here, "app"),
  base: "/",
  publicDir: false,
  // The typed client lives with the generated TypeScript client (tests/client-ts/src); its
  // bare import of openapi-fetch resolves to this package's copy.
  resolve: {
    alias: { "openapi-fetch": path.join(here, "node_modules/openapi-fetch/dist/index.mjs") },
  },
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  build: {
    // FLASHFORGE_WEB_OUT: build elsewhere (the drift check compares that with dist/).
    outDir: process.env["FLASHFORGE_WEB_OUT"] ?? path.join(here, "dist"),
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    strictPort: true,
    fs: { allow: [path.join(here, "../..")] },
    proxy: {
      "/api/": { target: api, changeOrigin: false },
      "/health/": { target: api },
      "/docs": { target: api },
    },
  },
});
