// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

/** Dependency direction (see ../shared/STYLE.md): http -> api -> queue -> worker -> store. */
const zone = (from, target, message) => ({
  files: [`src/${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: target, message }] }],
  },
});

export default tseslint.config(
  // openapi-types.ts is generated from the OpenAPI document (npm run client:generate; a test keeps it
  // current): tsc checks it, a linter has nothing to say to a generator.
  { ignores: ['dist/', 'node_modules/', '.kvq/', 'coverage/', 'src/client/openapi-types.ts'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      'no-duplicate-imports': ['error', { allowSeparateTypeImports: true }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
    },
  },
  zone('core', ['../*', '!../core/*'], 'core imports nothing from the rest of src'),
  zone('store', ['../api/*', '../workers/*', '../bin/*'], 'store may import only core'),
  zone(
    'api',
    ['../workers/*', '../bin/*', '../../workers/*', '../../bin/*'],
    'api never imports workers',
  ),
  zone('workers', ['../api/*', '../bin/*'], 'workers never import api'),
  {
    ...zone(
      'client',
      ['../*'],
      'the client (kvq/client) stands alone: it imports nothing from src',
    ),
    ignores: ['src/client/**/*.test.ts'],
  },
  zone('cli', ['../*', '!../client', '!../client/*'], 'the CLI is built on the client only'),
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { URL: 'readonly', process: 'readonly', console: 'readonly' },
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  prettier,
);
