// The TypeScript unit tests (tests/ts/): the extension's pure modules, in Node, no browser.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['tests/ts/**/*.test.ts'], environment: 'node' }
});
