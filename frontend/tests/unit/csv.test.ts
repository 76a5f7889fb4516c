import { afterEach, describe, expect, it, vi } from 'vitest';
import { addChunk, DownloadError, ledgerExportUrl, rowsOf, streamDownload, type Progress } from '@/utils/csv';

const encoder = new TextEncoder();

describe('ledger export URL', () => {
  it('carries the list filters and the console language', () => {
    const url = ledgerExportUrl({ accountId: 'QWNjb3VudDox', types: ['PURCHASE', 'EXPIRY'], since: '2026-02-28T16:00:00.000Z', until: null, lang: 'en' });
    const parsed = new URL(url, 'http://x');
    expect(parsed.pathname).toBe('/exports/ledger.csv');
    expect(parsed.searchParams.get('accountId')).toBe('QWNjb3VudDox');
    expect(parsed.searchParams.get('types')).toBe('PURCHASE,EXPIRY');
    expect(parsed.searchParams.get('since')).toBe('2026-02-28T16:00:00.000Z');
    expect(parsed.searchParams.has('until')).toBe(false);
    expect(parsed.searchParams.get('lang')).toBe('en');
  });
});

describe('download progress', () => {
  it('counts bytes and data rows as chunks arrive, a row split across chunks once', () => {
    let p: Progress = { bytes: 0, lines: 0 };
    p = addChunk(p, encoder.encode('\uFEFF流水号,类型\r\n1,消'));
    expect(rowsOf(p)).toBe(0);
    p = addChunk(p, encoder.encode('耗\r\n2,购买\r\n'));
    expect(rowsOf(p)).toBe(2);
    expect(p.bytes).toBe(encoder.encode('\uFEFF流水号,类型\r\n1,消耗\r\n2,购买\r\n').byteLength);
  });
});

describe('streamDownload', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('reports progress per chunk and saves the file', async () => {
    const chunks = ['\uFEFFa,b\r\n', '1,2\r\n3,4\r\n', '5,6\r\n'].map((c) => encoder.encode(c));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        chunks.forEach((c) => controller.enqueue(c));
        controller.close();
      },
    });
    vi.stubGlobal('fetch', vi.fn(async () => new Response(body, { status: 200 })));
    const seen: number[] = [];
    const done = await streamDownload('/exports/ledger.csv?accountId=x', 'ledger.csv', (p) => seen.push(rowsOf(p)));
    expect(seen).toEqual([0, 2, 3]);
    expect(rowsOf(done)).toBe(3);
  });

  it('turns a refusal into an error with the server code', async () => {
    const refusal = { errors: [{ message: 'No such account', extensions: { code: 'ACCOUNT_NOT_FOUND' } }] };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(refusal), { status: 404 })));
    const error = await streamDownload('/exports/ledger.csv', 'x.csv', () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).code).toBe('ACCOUNT_NOT_FOUND');
    expect((error as DownloadError).status).toBe(404);
  });
});
