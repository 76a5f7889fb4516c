/**
 * Refusals come back as `userErrors { code field message }` (message already in the
 * language sent as Accept-Language). These helpers put each next to its form field.
 */

export interface UserErrorLike {
  code: string;
  field?: string | null;
  message: string;
}

export interface FieldErrors {
  /** Form field key → messages, e.g. `lines[0].quantity` → ['…']. */
  fields: Record<string, string[]>;
  /** Errors that name no field the form shows. */
  general: UserErrorLike[];
}

/** `lines.0.quantity`, `lines[0].quantity` and `Lines[0].Quantity` all become `lines[0].quantity`. */
export function normalizeField(field: string): string {
  return field
    .trim()
    .replace(/\.(\d+)(?=\.|$)/g, '[$1]')
    .replace(/^[A-Z]/, (c) => c.toLowerCase());
}

/**
 * Attach each error to the most specific form field that matches it: the exact key,
 * else a field whose key ends with the error's field (`quantity` → `lines[0].quantity`
 * when the form has a single line), else the line itself (`lines[1]`), else general.
 */
export function mapFieldErrors(errors: readonly UserErrorLike[], formFields: readonly string[]): FieldErrors {
  const out: FieldErrors = { fields: {}, general: [] };
  const add = (key: string, message: string): void => {
    (out.fields[key] ??= []).push(message);
  };
  for (const error of errors) {
    const field = error.field ? normalizeField(error.field) : '';
    const target = field ? matchField(field, formFields) : null;
    if (target) add(target, error.message);
    else out.general.push(error);
  }
  return out;
}

function matchField(field: string, formFields: readonly string[]): string | null {
  if (formFields.includes(field)) return field;
  const suffixed = formFields.filter((f) => f.endsWith(`.${field}`) || f.endsWith(`]${field}`));
  if (suffixed.length === 1) return suffixed[0] ?? null;
  // `lines[1].institutionId` with no such form field: fall back to the line, then its list.
  const parent = field.replace(/\.[^.[\]]+$/, '');
  if (parent !== field) return matchField(parent, formFields);
  const list = field.replace(/\[\d+\]$/, '');
  if (list !== field && formFields.includes(list)) return list;
  return null;
}

/** The first message for a field, for a form item's tip. */
export function firstError(errors: FieldErrors, key: string): string | undefined {
  return errors.fields[key]?.[0];
}
