/**
 * The three purchase flows of the guide (R-ORD-1) as pure functions: form state → order
 * lines, and the server's `userErrors` (`lines[0].quantity`, …) → the form control that
 * shows each one.
 */
import type { Feature, OrderLineInput, ServiceVariant } from '@/api/generated/graphql';
import { normalizeField, type UserErrorLike } from '@/utils/errors';

export type Flow = 'resources' | 'software' | 'services';
export const FLOWS: readonly Flow[] = ['resources', 'software', 'services'];

export type ResourceProduct = 'EXAM_VOLUME' | 'EXAM_ANNUAL' | 'AI_PACK_GLAUCOMA';
export interface ResourceForm {
  product: ResourceProduct;
  quantity: number;
  years: number;
}

export interface SoftwareForm {
  institutionId: string;
  features: Feature[];
}

export type ServiceProduct = 'SERVICE_DELIVERY' | 'SERVICE_MAINTENANCE' | 'SERVICE_CUSTOM_DEV';
export interface ServiceForm {
  product: ServiceProduct;
  variant: ServiceVariant;
  quantity: number;
  years: number;
  startsOn: string;
  /** An institution on the platform, or a new one named by `institutionName` (R-SVC-4). */
  existing: boolean;
  institutionId: string;
  institutionName: string;
}

/** A basket: the lines to quote and order, and for each line the control that owns it. */
export interface Basket {
  lines: OrderLineInput[];
  owners: string[];
}

export function resourceBasket(form: ResourceForm): Basket {
  const line: OrderLineInput = { product: form.product, quantity: form.quantity };
  if (form.product === 'EXAM_ANNUAL') line.years = form.years;
  return { lines: [line], owners: ['quantity'] };
}

/** Licences are per institution; the base suite comes first when it is being bought (R-LIC-4). */
export function softwareBasket(form: SoftwareForm): Basket {
  const ordered = [...form.features].sort((a, b) => (a === 'BASE_SUITE' ? -1 : b === 'BASE_SUITE' ? 1 : 0));
  return {
    lines: ordered.map((f) => ({ product: `LICENCE_${f}`, quantity: 1, institutionId: form.institutionId || null })),
    owners: ordered.map((f) => `feature:${f}`),
  };
}

export function serviceBasket(form: ServiceForm): Basket {
  const line: OrderLineInput = { product: form.product, quantity: form.quantity };
  if (form.product !== 'SERVICE_CUSTOM_DEV') line.variant = form.variant;
  if (form.product === 'SERVICE_MAINTENANCE') {
    line.years = form.years;
    if (form.startsOn) line.startsOn = form.startsOn;
  }
  if (form.existing) line.institutionId = form.institutionId || null;
  else line.institutionName = form.institutionName.trim() || null;
  return { lines: [line], owners: ['quantity'] };
}

/** Line fields that have a control of their own whatever the line. */
const SHARED_CONTROLS: Record<string, string> = {
  years: 'years',
  startsOn: 'startsOn',
  variant: 'variant',
  institutionId: 'institution',
  institutionName: 'institution',
};

export interface ControlErrors {
  controls: Record<string, string[]>;
  general: string[];
}

/**
 * `lines[2].quantity` → the owner of line 2; `lines[0].institutionId` → `institution`;
 * `acceptTerms` → `acceptTerms`; anything else (no field, unknown line) → general.
 */
export function errorsByControl(errors: readonly UserErrorLike[], owners: readonly string[]): ControlErrors {
  const out: ControlErrors = { controls: {}, general: [] };
  for (const error of errors) {
    const control = controlFor(error.field ? normalizeField(error.field) : '', owners);
    if (control) (out.controls[control] ??= []).push(error.message);
    else out.general.push(error.message);
  }
  return out;
}

function controlFor(field: string, owners: readonly string[]): string | null {
  const match = /^lines\[(\d+)\](?:\.(\w+))?$/.exec(field);
  if (match) {
    const shared = match[2] ? SHARED_CONTROLS[match[2]] : undefined;
    return shared ?? owners[Number(match[1])] ?? null;
  }
  if (field === 'lines') return owners[0] ?? null;
  if (field === 'acceptTerms') return 'acceptTerms';
  return null;
}
