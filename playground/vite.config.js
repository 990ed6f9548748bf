// One build: `npm ci && npm run build` writes the bundle into the Python package, where
// `component serve` serves it at /playground (relative asset paths, no CDN, no source maps).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const out = process.env.PLAYGROUND_OUT
  || fileURLToPath(new URL('../component/service/playground/static', import.meta.url));

export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: out,
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2000,
  },
});
