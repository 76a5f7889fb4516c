/** Narrow what `node(id)` returned to the type the page asked for. */
import type { OrderFieldsFragment } from './generated/graphql';

export function isOrder(node: unknown): node is OrderFieldsFragment {
  return typeof node === 'object' && node !== null && 'state' in node && 'totalFen' in node && 'lines' in node;
}
