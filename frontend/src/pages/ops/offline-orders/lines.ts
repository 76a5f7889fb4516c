/** Offline order lines (R-ORD-3): any product, AI licences included, as the operator enters them. */
import type { OrderLineInput, ServiceVariant } from '@/api/generated/graphql';

export interface ProductInfo {
  code: string;
  family: string;
  unit: number;
  perYear: boolean;
  perInstitution: boolean;
}

export interface OfflineLine {
  product: string;
  quantity: number;
  years: number;
  institutionId: string;
  variant: ServiceVariant;
  startsOn: string;
}

/** A new line has no product: recording is irreversible, so the operator chooses every one. */
export function blankLine(): OfflineLine {
  return { product: '', quantity: 1, years: 1, institutionId: '', variant: 'REMOTE', startsOn: '' };
}

/** Indexes of lines still without a product; nothing is sent while there are any. */
export function linesWithoutProduct(lines: readonly OfflineLine[]): number[] {
  return lines.flatMap((l, i) => (l.product ? [] : [i]));
}

/** Only the inputs the product takes, so the server judges exactly what was meant. */
export function toOrderLine(line: OfflineLine, product: ProductInfo | undefined): OrderLineInput {
  const out: OrderLineInput = { product: line.product, quantity: line.quantity };
  if (product?.perYear) out.years = line.years;
  if (product?.perInstitution) out.institutionId = line.institutionId || null;
  if (product?.family === 'SERVICE' && line.product !== 'SERVICE_CUSTOM_DEV') out.variant = line.variant;
  if (line.product === 'SERVICE_MAINTENANCE' && line.startsOn) out.startsOn = line.startsOn;
  return out;
}

/** Form keys errors can attach to: `lines[i].<input>` for every line, plus the order's own. */
export function offlineFormFields(count: number): string[] {
  const perLine = ['product', 'quantity', 'years', 'institutionId', 'variant', 'startsOn'];
  const keys = ['contractRef', 'accountId'];
  for (let i = 0; i < count; i += 1) keys.push(`lines[${i}]`, ...perLine.map((f) => `lines[${i}].${f}`));
  return keys;
}

export interface PricedProduct extends ProductInfo {
  unitPriceFen: number | null;
}

export interface PreviewLine {
  product: string;
  quantity: number;
  years: number | null;
  unitPriceFen: number;
  amountFen: number;
}

/**
 * The price preview of an offline order at the prices in force (R-EXAM-1 formulas:
 * quantity × unit price, × years when priced per year). `quote` prices online orders
 * only and refuses AI licences, so offline orders are previewed here; the server
 * computes the amounts it records.
 */
export function previewOffline(lines: readonly OrderLineInput[], catalog: readonly PricedProduct[]): { lines: PreviewLine[]; totalFen: number | null } {
  const byCode = new Map(catalog.map((p) => [p.code, p]));
  let total: number | null = 0;
  const chosen = lines.filter((line) => line.product);
  if (chosen.length === 0) return { lines: [], totalFen: null };
  const out = chosen.map((line) => {
    const product = byCode.get(line.product);
    const unit = product?.unitPriceFen ?? null;
    const years = product?.perYear ? (line.years ?? 1) : null;
    const amount = unit === null ? 0 : unit * line.quantity * (years ?? 1);
    if (unit === null) total = null;
    else if (total !== null) total += amount;
    return { product: line.product, quantity: line.quantity, years, unitPriceFen: unit ?? 0, amountFen: amount };
  });
  // A line still to be chosen has no price yet: no total until every line has one.
  return { lines: out, totalFen: chosen.length < lines.length ? null : total };
}
