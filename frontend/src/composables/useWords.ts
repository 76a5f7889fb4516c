/** The words mappings (utils/words.ts) bound to the console's language, with the names of
 * the chosen account's institutions and people (people only for those who may list them). */
import { computed } from 'vue';
import { useI18n } from 'vue-i18n';
import { ActorNamesDocument } from '@/api/generated/graphql';
import { useQuery } from '@/composables/useQuery';
import { useSession } from '@/store/session';
import * as words from '@/utils/words';

export function useWords(options: { names?: boolean } = {}) {
  const { t, te } = useI18n();
  const session = useSession();
  const exists = (key: string) => te(key);
  const translate: words.Translate = (key, values) => (values ? t(key, values) : t(key));
  const names = useQuery(ActorNamesDocument, () => ({ id: session.accountId ?? '' }), {
    skip: () => !options.names || !session.accountId || !session.canManage,
    report: false,
    maxAgeMs: 5 * 60_000, // names change rarely; a rename is a mutation, which forgets this
  });
  const known = computed<words.KnownNames>(() => {
    const account = names.data.value?.account;
    if (!account) return {};
    const users = new Map<number, string>();
    for (const { node } of account.users.edges) {
      const pk = words.globalIdPk(node.id, 'User');
      if (pk !== null) users.set(pk, node.name);
    }
    return { institutions: words.institutionNames(account.institutions.edges.map((e) => e.node)), users };
  });
  return {
    actor: (actor: string) => words.actorLabel(actor, translate, exists, known.value),
    cause: (cause: string) => words.causeLabel(cause, translate, exists),
    operation: (operation: string, args?: unknown) => words.operationLabel(operation, translate, exists, args),
    result: (result: string, message?: string | null) => words.resultLabel(result, message, translate),
    payment: (reference: string) => words.paymentReferenceLabel(reference, translate),
  };
}
