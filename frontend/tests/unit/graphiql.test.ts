import { describe, expect, it } from 'vitest';
import { operationNameFor } from '@/graphiql/operation';

describe('GraphiQL sends the operation the document holds', () => {
  it('drops a name the editor no longer has', () => {
    expect(operationNameFor('query Renamed { viewer { role } }', 'Me')).toBe('Renamed');
    expect(operationNameFor('{ viewer { role } }', 'Me')).toBeUndefined();
  });

  it('keeps a name that is still there', () => {
    expect(operationNameFor('query A { viewer { role } } query B { viewer { name } }', 'B')).toBe('B');
  });

  it('leaves the choice to the server when several remain and the name is gone', () => {
    expect(operationNameFor('query A { viewer { role } } query B { viewer { name } }', 'Me')).toBeUndefined();
  });

  it('does not second-guess a document that does not parse', () => {
    expect(operationNameFor('query Me { viewer {', 'Me')).toBe('Me');
  });
});
