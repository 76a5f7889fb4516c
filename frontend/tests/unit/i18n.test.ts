import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import en from '@/locales/en';
import zhCN from '@/locales/zh-CN';

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

const zh = flatten(zhCN as Tree);
const english = flatten(en as Tree);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' ? [] : sources(path);
    return /\.(vue|ts)$/.test(name) && !path.includes('locales') ? [path] : [];
  });
}

describe('i18n', () => {
  it('has the same keys in both locales', () => {
    expect([...english.keys()].sort()).toEqual([...zh.keys()].sort());
  });

  it('has the same placeholders in both locales', () => {
    for (const [key, text] of zh) expect(placeholders(english.get(key) ?? ''), key).toEqual(placeholders(text));
  });

  it('has no empty message', () => {
    for (const [key, text] of [...zh, ...english]) expect(text.trim(), key).not.toBe('');
  });

  it('has every literal key the source uses', () => {
    const root = join(__dirname, '../../src');
    const used = new Set<string>();
    for (const file of sources(root)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bt\('([\w.]+)'/g)) used.add(m[1] ?? '');
      for (const m of text.matchAll(/title: '([a-zA-Z]+\.[\w.]+)'/g)) used.add(m[1] ?? '');
    }
    const missing = [...used].filter((k) => !zh.has(k));
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(100);
  });

  it('names every enum value the API can send', () => {
    const schema = readFileSync(join(__dirname, '../../../schema.graphql'), 'utf8');
    const enumValues = (name: string) => {
      const block = new RegExp(`enum ${name} \\{([^}]*)\\}`).exec(schema)?.[1] ?? '';
      return block.split('\n').map((l) => l.trim()).filter((l) => /^[A-Z_0-9]+$/.test(l));
    };
    const prefixes: Record<string, string> = {
      AccountStatus: 'status',
      LedgerEntryType: 'ledgerType',
      NoticeKind: 'noticeKind',
      NoticeTarget: 'noticeTarget',
      OrderState: 'orderState',
      ServiceState: 'serviceState',
      ServiceKind: 'serviceKind',
      ServiceVariant: 'variant',
      AiProduct: 'aiProduct',
      Feature: 'feature',
      LotMode: 'lotMode',
      Role: 'role',
    };
    for (const [name, prefix] of Object.entries(prefixes)) {
      const values = enumValues(name);
      expect(values.length, name).toBeGreaterThan(0);
      for (const v of values) expect(zh.has(`${prefix}.${v}`), `${prefix}.${v}`).toBe(true);
    }
  });
});
