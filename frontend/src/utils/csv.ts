/** The ledger's CSV, made by the server (GET /exports/ledger.csv) and streamed to a file. */

export interface LedgerExportParams {
  accountId: string;
  types?: readonly string[] | null;
  since?: string | null;
  until?: string | null;
  lang: string;
}

/** The server's streamed ledger CSV (GET /exports/ledger.csv), with the list's filters. */
export function ledgerExportUrl(p: LedgerExportParams): string {
  const q = new URLSearchParams({ accountId: p.accountId });
  if (p.types?.length) q.set('types', p.types.join(','));
  if (p.since) q.set('since', p.since);
  if (p.until) q.set('until', p.until);
  q.set('lang', p.lang);
  return `/exports/ledger.csv?${q.toString()}`;
}

export interface Progress {
  bytes: number;
  /** Complete lines received, the header's included. */
  lines: number;
}

/** Progress after one more chunk: every LF ends a line. */
export function addChunk(progress: Progress, chunk: Uint8Array): Progress {
  let lines = 0;
  for (const byte of chunk) if (byte === 0x0a) lines += 1;
  return { bytes: progress.bytes + chunk.byteLength, lines: progress.lines + lines };
}

/** Data rows received: the lines after the header. */
export function rowsOf(progress: Progress): number {
  return Math.max(0, progress.lines - 1);
}

/** The error a refused download answers: the API's error JSON (code and message). */
export class DownloadError extends Error {
  readonly code: string | null;
  readonly status: number;

  constructor(message: string, code: string | null, status: number) {
    super(message);
    this.name = 'DownloadError';
    this.code = code;
    this.status = status;
  }
}

async function refusal(response: Response): Promise<DownloadError> {
  try {
    const body = (await response.json()) as { errors?: { message?: string; extensions?: { code?: string } }[] };
    const first = body.errors?.[0];
    return new DownloadError(first?.message ?? response.statusText, first?.extensions?.code ?? null, response.status);
  } catch {
    return new DownloadError(response.statusText || String(response.status), null, response.status);
  }
}

/** Fetch a file chunk by chunk, reporting bytes and rows as they arrive, then save it. */
export async function streamDownload(url: string, filename: string, onProgress: (p: Progress) => void): Promise<Progress> {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok || !response.body) throw await refusal(response);
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let progress: Progress = { bytes: 0, lines: 0 };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    progress = addChunk(progress, value);
    onProgress(progress);
  }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob(parts as BlobPart[], { type: 'text/csv;charset=utf-8' }));
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  return progress;
}
