import { describe, expect, it } from 'vitest';
import { blankLine, linesWithoutProduct, previewOffline } from '@/pages/ops/offline-orders/lines';

const catalog = [{ code: 'EXAM_VOLUME', family: 'EXAM', unit: 10_000, perYear: false, perInstitution: false, unitPriceFen: 150 }];

describe('offline order lines', () => {
  it('start without a product, so nothing is recorded that the operator did not choose', () => {
    expect(blankLine().product).toBe('');
    expect(linesWithoutProduct([blankLine(), { ...blankLine(), product: 'EXAM_VOLUME' }, blankLine()])).toEqual([0, 2]);
  });

  it('preview nothing and no total while a line has no product', () => {
    expect(previewOffline([{ product: '', quantity: 1 }], catalog)).toEqual({ lines: [], totalFen: null });
    const partial = previewOffline([{ product: 'EXAM_VOLUME', quantity: 10_000 }, { product: '', quantity: 1 }], catalog);
    expect(partial.lines.map((l) => l.amountFen)).toEqual([1_500_000]);
    expect(partial.totalFen).toBeNull();
    expect(previewOffline([{ product: 'EXAM_VOLUME', quantity: 10_000 }], catalog).totalFen).toBe(1_500_000);
  });
});
