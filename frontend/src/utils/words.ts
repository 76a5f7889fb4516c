/**
 * Codes the API records (ledger causes, actors such as `institution:1`, audit operations
 * and results, payment references such as `transfer:…`) as words a person reads, in the
 * console's language. Pure: the caller passes its translate function (and, where it has
 * them, the names it knows), so every mapping is unit-tested with the real messages.
 */

export type Translate = (key: string, values?: Record<string, string | number>) => string;
/** Does the locale have this key? (vue-i18n's `te`) */
export type Exists = (key: string) => boolean;

export interface KnownNames {
  /** Institution primary key → its name (from the account's institutions). */
  institutions?: ReadonlyMap<number, string>;
  /** User primary key → the person's name. */
  users?: ReadonlyMap<number, string>;
}

const NUMBERED = new Set(['institution', 'token', 'user', 'operator', 'account_admin', 'account_viewer']);

/** `institution:12` → { kind: 'institution', id: '12' }; `cli` → { kind: 'cli', id: '' }. */
export function parseActor(actor: string): { kind: string; id: string } {
  const at = actor.indexOf(':');
  return at < 0 ? { kind: actor, id: '' } : { kind: actor.slice(0, at), id: actor.slice(at + 1) };
}

/** Who did it: a known name, else a readable label such as "机构 #1 / Institution #1". */
export function actorLabel(actor: string, t: Translate, exists: Exists, names: KnownNames = {}): string {
  const { kind, id } = parseActor(actor);
  const pk = Number(id);
  if (kind === 'institution' && names.institutions?.has(pk)) return names.institutions.get(pk) ?? actor;
  if (kind === 'user' && names.users?.has(pk)) return names.users.get(pk) ?? actor;
  if (NUMBERED.has(kind) && /^\d+$/.test(id)) return t(`words.actor.${kind}`, { id });
  if (kind === 'anonymous') return t('words.actor.anonymous');
  if (kind === 'system') return exists(`words.actor.${id}`) ? t(`words.actor.${id}`) : t('words.actor.system');
  if (kind === 'cli') return t('words.actor.cli');
  return actor;
}

/** Why a ledger entry was written (EXAM, ORDER, OPERATOR, SWEEP). */
export function causeLabel(cause: string, t: Translate, exists: Exists): string {
  return exists(`words.cause.${cause}`) ? t(`words.cause.${cause}`) : cause;
}

/** An audit operation (a mutation's name); refused requests with how many were refused. */
export function operationLabel(operation: string, t: Translate, exists: Exists, args?: unknown): string {
  const key = `words.operation.${operation}`;
  const words = exists(key) ? t(key) : operation;
  const count = refusedCount(operation, args);
  return count === null ? words : t('words.refusedCount', { operation: words, count });
}

function refusedCount(operation: string, args: unknown): number | null {
  if (operation !== 'requestRefused' || !args || typeof args !== 'object') return null;
  const count = (args as Record<string, unknown>).count;
  return typeof count === 'number' ? count : null;
}

/** An audit result: `ok`, else the server's message for the code, else "failed". */
export function resultLabel(result: string, message: string | null | undefined, t: Translate): string {
  if (result === 'ok') return t('words.ok');
  return message ?? t('words.failed');
}

/** `transfer:HX-001` → "对公转账 · HX-001"; `provider:pay_9` → "在线支付 · pay_9". */
export function paymentReferenceLabel(reference: string, t: Translate): string {
  const { kind, id } = parseActor(reference);
  if ((kind === 'transfer' || kind === 'provider') && id) return t(`words.payment.${kind}`, { ref: id });
  if (kind === 'offline') return t('words.payment.offline');
  return reference;
}

/** The primary key inside a relay global ID (base64 of `Type:pk`), or null. */
export function globalIdPk(id: string, type: string): number | null {
  try {
    const [kind, pk] = atob(id).split(':');
    return kind === type && pk && /^\d+$/.test(pk) ? Number(pk) : null;
  } catch {
    return null;
  }
}

/** Institutions as `pk → name`, for actorLabel. */
export function institutionNames(nodes: ReadonlyArray<{ id: string; name: string }>): Map<number, string> {
  const out = new Map<number, string>();
  for (const node of nodes) {
    const pk = globalIdPk(node.id, 'Institution');
    if (pk !== null) out.set(pk, node.name);
  }
  return out;
}
