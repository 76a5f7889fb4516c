import type { CodegenConfig } from '@graphql-codegen/cli';
const config: CodegenConfig = {
  schema: '../schema.graphql',
  documents: ['src/**/*.graphql'],
  generates: { 'src/api/generated/': { preset: 'client', config: { scalars: { Fen: 'string | number' } } } },
};
export default config;
