// The lab extension's linter: eslint's and typescript-eslint's recommended rules, on src/
// and the TypeScript unit tests (`jlpm lint`; `make test` runs it through pytest).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/', 'node_modules/', 'nbflow/labextension/', '.venv/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // The REST answers are JSON of several shapes; `any` marks where they are read.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Lumino's `namespace` idiom (CommandIDs) is JupyterLab's own style.
      '@typescript-eslint/no-namespace': 'off',
      eqeqeq: ['error', 'smart'],
      curly: ['error', 'all'],
      'prefer-const': 'error'
    }
  }
);
