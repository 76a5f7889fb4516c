/**
 * GraphQL Code Generator: typed documents for every `src/api/operations/*.graphql`, checked
 * against the backend's committed `../schema.graphql` (an unknown field fails the build).
 * `npm run codegen` (part of `npm run build`) regenerates `src/api/generated/`.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../schema.graphql',
  documents: ['src/api/operations/**/*.graphql'],
  generates: {
    'src/api/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
        scalars: {
          // Whole fen; the server sends JSON numbers and caps amounts at 10^15 (< 2^53).
          Fen: 'number',
          DateTime: 'string',
          Date: 'string',
          JSON: 'unknown',
        },
      },
    },
  },
};

export default config;
