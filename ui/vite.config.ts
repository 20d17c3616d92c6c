import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The admin page, built into dist/ui/ and served by the broker's HTTP
 * listener under /ui/ (src/server/ui-handler.ts). The built page must run
 * under a CSP without 'unsafe-inline': no inline scripts or styles, so the
 * module preload polyfill (inlined into the entry) is off and CSS is a file.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/ui/",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../dist/ui/", import.meta.url)),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    // a credential-free page still has no business shipping its sources
    sourcemap: false,
    reportCompressedSize: false,
  },
  logLevel: "warn",
});
