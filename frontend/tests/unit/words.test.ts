import { describe, expect, it } from 'vitest';
import en from '@/locales/en';
import zh from '@/locales/zh-CN';
import { actorLabel, causeLabel, globalIdPk, institutionNames, operationLabel, paymentReferenceLabel, resultLabel } from '@/utils/words';

function lookup(messages: Record<string, unknown>, key: string): unknown {
  return key.split('.').reduce<unknown>((m, k) => (m && typeof m === 'object' ? (m as Record<string, unknown>)[k] : undefined), messages);
}
function words(messages: Record<string, unknown>) {
  const t = (key: string, values: Record<string, string | number> = {}) => {
    const text = lookup(messages, key);
    if (typeof text !== 'string') throw new Error(`missing ${key}`);
    return text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''));
  };
  const exists = (key: string) => typeof lookup(messages, key) === 'string';
  return { t, exists };
}
const ZH = words(zh);
const EN = words(en);

describe('actors as words', () => {
  it('labels numbered principals in both languages', () => {
    expect(actorLabel('institution:1', ZH.t, ZH.exists)).toBe('机构 #1');
    expect(actorLabel('institution:1', EN.t, EN.exists)).toBe('Institution #1');
    expect(actorLabel('token:1', ZH.t, ZH.exists)).toBe('API 令牌 #1');
    expect(actorLabel('user:3', EN.t, EN.exists)).toBe('User #3');
    expect(actorLabel('account_viewer:4', ZH.t, ZH.exists)).toBe('账户只读成员 #4');
  });

  it('uses a known name before a number', () => {
    const names = { institutions: new Map([[1, '北京协和医院']]), users: new Map([[3, '王医生']]) };
    expect(actorLabel('institution:1', ZH.t, ZH.exists, names)).toBe('北京协和医院');
    expect(actorLabel('user:3', EN.t, EN.exists, names)).toBe('王医生');
    expect(actorLabel('institution:2', EN.t, EN.exists, names)).toBe('Institution #2');
  });

  it('names the system, the command line and anonymous callers', () => {
    expect(actorLabel('system:sweep', ZH.t, ZH.exists)).toBe('系统（到期清理）');
    expect(actorLabel('system:payment-callback', EN.t, EN.exists)).toBe('System (payment callback)');
    expect(actorLabel('system:something-new', EN.t, EN.exists)).toBe('System');
    expect(actorLabel('cli', ZH.t, ZH.exists)).toBe('命令行');
    expect(actorLabel('anonymous:0', EN.t, EN.exists)).toBe('Not signed in');
  });

  it('leaves what it cannot read as it is', () => {
    expect(actorLabel('robot:7', EN.t, EN.exists)).toBe('robot:7');
    expect(actorLabel('user:x', EN.t, EN.exists)).toBe('user:x');
  });
});

describe('ledger causes, audit operations and results', () => {
  it('names every ledger cause', () => {
    expect(['EXAM', 'ORDER', 'OPERATOR', 'SWEEP'].map((c) => causeLabel(c, ZH.t, ZH.exists))).toEqual(['检查上传', '订单', '运营操作', '到期清理']);
    expect(causeLabel('SWEEP', EN.t, EN.exists)).toBe('Expiry sweep');
    expect(causeLabel('NEW', EN.t, EN.exists)).toBe('NEW');
  });

  it('names operations, and counts refused requests', () => {
    expect(operationLabel('createInstitution', ZH.t, ZH.exists)).toBe('创建机构');
    expect(operationLabel('createInstitution', EN.t, EN.exists)).toBe('Create institution');
    expect(operationLabel('requestRefused', ZH.t, ZH.exists, { count: 12, minute: 'x' })).toBe('请求被拒绝（12 次）');
    expect(operationLabel('requestRefused', EN.t, EN.exists, { count: 3 })).toBe('Requests refused (3 times)');
    expect(operationLabel('someNewMutation', EN.t, EN.exists)).toBe('someNewMutation');
  });

  it('names every mutation of the schema', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const schema = readFileSync(join(__dirname, '../../../schema.graphql'), 'utf8');
    const block = /type Mutation \{([\s\S]*?)\n\}/.exec(schema)?.[1] ?? '';
    const names = [...block.matchAll(/^ {2}([a-z]\w*)[(:]/gm)].map((m) => m[1] ?? '');
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) {
      expect(ZH.exists(`words.operation.${name}`), name).toBe(true);
      expect(EN.exists(`words.operation.${name}`), name).toBe(true);
    }
  });

  it('gives results in words', () => {
    expect(resultLabel('ok', null, ZH.t)).toBe('成功');
    expect(resultLabel('LOGIN_FAILED', 'Wrong email or password', EN.t)).toBe('Wrong email or password');
    expect(resultLabel('ERROR', null, EN.t)).toBe('Failed');
  });
});

describe('payment references and ids', () => {
  it('says how a payment came in', () => {
    expect(paymentReferenceLabel('transfer:HX-2026-001', ZH.t)).toBe('对公转账 · HX-2026-001');
    expect(paymentReferenceLabel('provider:pay_9', EN.t)).toBe('Online payment · pay_9');
    expect(paymentReferenceLabel('offline:12', EN.t)).toBe('Offline purchase record');
    expect(paymentReferenceLabel('odd', EN.t)).toBe('odd');
  });

  it('reads the key inside a relay id', () => {
    expect(globalIdPk(btoa('Institution:12'), 'Institution')).toBe(12);
    expect(globalIdPk(btoa('Account:12'), 'Institution')).toBeNull();
    expect(globalIdPk('%%%', 'Institution')).toBeNull();
    expect(institutionNames([{ id: btoa('Institution:3'), name: 'A' }]).get(3)).toBe('A');
  });
});
