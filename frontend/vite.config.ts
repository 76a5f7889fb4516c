import { fileURLToPath, URL } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig, type ProxyOptions } from 'vite';

// Dev only: `IB_DEV_TOKEN=ibo_… npm run dev` lets the dev server call the API as an operator
// (the built console always uses the session cookie set by `login`).
const backend = process.env.IB_BACKEND ?? 'http://127.0.0.1:8010';
const devToken = process.env.IB_DEV_TOKEN;
const proxy: ProxyOptions = {
  target: backend,
  changeOrigin: false,
  ...(devToken ? { headers: { Authorization: `Bearer ${devToken}` } } : {}),
};

export default defineConfig({
  plugins: [vue()],
  define: {
    // vue-i18n's esm-bundler build: composition API only, no devtools, no legacy API.
    __VUE_I18N_FULL_INSTALL__: false,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: { port: 5173, proxy: { '/graphql': { ...proxy, ws: true } } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No source maps in the shipped console; the server serves dist/ as is.
    sourcemap: false,
    // dist/.vite/manifest.json tells `npm run size` which chunks the first page loads.
    manifest: true,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      onwarn(warning, warn) {
        // React libraries inside GraphiQL mark themselves "use client"; meaningless in a bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        graphiql: fileURLToPath(new URL('./graphiql.html', import.meta.url)),
      },
    },
  },
});
