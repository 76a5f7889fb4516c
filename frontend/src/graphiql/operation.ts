/**
 * The operation name GraphiQL should send for the document as it now stands. GraphiQL
 * keeps the name it last saw, so after the editor changes (an operation renamed, or the
 * only one left unnamed) it can send a name the document no longer has, which the
 * server refuses (OPERATION_UNKNOWN). Pure, so it is unit-tested.
 */
import { Kind, parse } from 'graphql';

export function operationNameFor(query: string, requested: string | null | undefined): string | undefined {
  let names: (string | undefined)[];
  try {
    names = parse(query)
      .definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION)
      .map((d) => (d.kind === Kind.OPERATION_DEFINITION ? d.name?.value : undefined));
  } catch {
    return requested ?? undefined; // the server reports the syntax error itself
  }
  if (requested && names.includes(requested)) return requested;
  // One operation: it is the one to run, whatever name was kept. Several: the server asks which.
  return names.length === 1 ? names[0] : undefined;
}
