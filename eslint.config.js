import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'test-output/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': ['error', {
        object: 'process', property: 'env',
        message: 'Read configuration through src/config.ts; nothing else reads process.env.',
      }],
    },
  },
  {
    files: ['src/config.ts', 'test/**', 'bench/**', 'scripts/**', 'src/cli/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['web/**/*.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', fetch: 'readonly', EventSource: 'readonly', navigator: 'readonly', location: 'readonly', history: 'readonly', URL: 'readonly', URLSearchParams: 'readonly', FormData: 'readonly', XMLHttpRequest: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', localStorage: 'readonly', Blob: 'readonly', File: 'readonly', DataTransfer: 'readonly', CompressionStream: 'readonly', Response: 'readonly', TextEncoder: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', HTMLElement: 'readonly', customElements: 'readonly', requestAnimationFrame: 'readonly', Intl: 'readonly', Node: 'readonly', AbortController: 'readonly', TextDecoderStream: 'readonly' } },
  },
);
