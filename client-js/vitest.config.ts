import { defineConfig } from "vitest/config";

// Unit tests run in Node against the TypeScript sources; the browser smoke
// test (npm run test:browser) runs the bundled library in Chromium instead.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    pool: "threads",
    poolOptions: { threads: { maxThreads: 2, minThreads: 1 } },
  },
});
