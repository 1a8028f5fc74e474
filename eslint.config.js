// Lint: typescript-eslint's recommended rules plus the architecture of
// DESIGN.md section 1, enforced with core rules only (no plugins):
// dependencies point one way, cross-folder imports go through index.ts,
// only the Docker driver imports dockerode, only the config loader reads
// process.env, and nothing evaluates strings as code.
import tseslint from 'typescript-eslint';

const FOLDERS = ['gateway', 'pool', 'builder', 'runtimes', 'store', 'workflows', 'triggers', 'cli'];

/** What each folder must not import (DESIGN.md section 1, "must not know about"). */
const FORBIDDEN = {
  store: ['gateway', 'pool', 'builder', 'runtimes', 'workflows', 'triggers', 'cli'],
  builder: ['gateway', 'pool', 'store', 'workflows', 'triggers', 'cli'],
  runtimes: ['gateway', 'pool', 'builder', 'store', 'workflows', 'triggers', 'cli'],
  pool: ['gateway', 'builder', 'store', 'runtimes', 'workflows', 'triggers', 'cli'],
  workflows: ['gateway', 'pool', 'builder', 'store', 'runtimes', 'triggers', 'cli'],
  triggers: ['gateway', 'pool', 'builder', 'store', 'runtimes', 'workflows', 'cli'],
  gateway: ['cli'],
  cli: ['gateway', 'pool', 'builder', 'store', 'runtimes', 'workflows', 'triggers'],
};

const deepImports = (depth) =>
  FOLDERS.map((folder) => `${'../'.repeat(depth)}${folder}/**`).concat(
    FOLDERS.map((folder) => `!${'../'.repeat(depth)}${folder}/index.js`),
  );

function importRules(folder, { allowDockerode = false } = {}) {
  const forbidden = (FORBIDDEN[folder] ?? []).flatMap((target) => [`../${target}/**`, `../../${target}/**`, `../../../${target}/**`]);
  const patterns = [
    { group: [...deepImports(1), ...deepImports(2), ...deepImports(3)], message: 'import another folder through its index.ts' },
  ];
  if (forbidden.length > 0) patterns.unshift({ group: forbidden, message: `${folder}/ must not depend on this folder (DESIGN.md section 1)` });
  return {
    'no-restricted-imports': [
      'error',
      {
        paths: allowDockerode ? [] : [{ name: 'dockerode', message: 'only pool/drivers/docker.ts talks to Docker' }],
        patterns,
      },
    ],
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tap/**', 'coverage/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...Object.keys(FORBIDDEN).map((folder) => ({
    files: [`${folder}/**/*.ts`],
    rules: {
      ...importRules(folder),
      'no-console': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration in gateway/config.ts and pass it down' }],
    },
  })),
  { files: ['pool/drivers/docker.ts'], rules: importRules('pool', { allowDockerode: true }) },
  { files: ['gateway/config.ts', 'cli/config.ts'], rules: { 'no-restricted-properties': 'off' } },
);
