import { defineConfig } from 'vite';

// The server serves `dist/` at `/`; `npm run dev` proxies the API to a local Hookline.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 300 },
  server: {
    proxy: { '/api': process.env.HOOKLINE_URL ?? 'http://127.0.0.1:8071' },
  },
});
