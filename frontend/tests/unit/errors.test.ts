import { describe, expect, it } from 'vitest';
import { errorsByControl, resourceBasket, serviceBasket, softwareBasket } from '@/pages/commerce/buy/basket';
import { offlineFormFields, previewOffline, toOrderLine } from '@/pages/ops/offline-orders/lines';
import { firstError, mapFieldErrors, normalizeField } from '@/utils/errors';

const err = (field: string | null, message = `bad ${field}`) => ({ code: 'R_X', field, message });

describe('mapFieldErrors', () => {
  it('normalizes the ways a list index is written', () => {
    expect(normalizeField('lines.0.quantity')).toBe('lines[0].quantity');
    expect(normalizeField('lines[2].years')).toBe('lines[2].years');
    expect(normalizeField('AcceptTerms')).toBe('acceptTerms');
  });

  it('puts each error next to its field, the rest in general', () => {
    const fields = offlineFormFields(2);
    const out = mapFieldErrors([err('lines[1].quantity'), err('contractRef'), err(null, 'no field'), err('unknownThing')], fields);
    expect(firstError(out, 'lines[1].quantity')).toBe('bad lines[1].quantity');
    expect(firstError(out, 'contractRef')).toBe('bad contractRef');
    expect(out.general.map((e) => e.message)).toEqual(['no field', 'bad unknownThing']);
  });

  it('falls back from an unknown line field to the line', () => {
    const out = mapFieldErrors([err('lines[0].remark')], offlineFormFields(1));
    expect(firstError(out, 'lines[0]')).toBe('bad lines[0].remark');
  });

  it('matches a bare field to the single form field ending with it', () => {
    const out = mapFieldErrors([err('quantity')], ['lines[0].quantity', 'contractRef']);
    expect(firstError(out, 'lines[0].quantity')).toBe('bad quantity');
  });

  it('keeps several messages for one field', () => {
    const out = mapFieldErrors([err('email', 'one'), err('email', 'two')], ['email']);
    expect(out.fields.email).toEqual(['one', 'two']);
  });
});

describe('purchase baskets', () => {
  it('orders an ANNUAL lot with its years, a VOLUME lot without', () => {
    expect(resourceBasket({ product: 'EXAM_ANNUAL', quantity: 20_000, years: 3 }).lines).toEqual([{ product: 'EXAM_ANNUAL', quantity: 20_000, years: 3 }]);
    expect(resourceBasket({ product: 'EXAM_VOLUME', quantity: 10_000, years: 3 }).lines).toEqual([{ product: 'EXAM_VOLUME', quantity: 10_000 }]);
  });

  it('puts the base suite first among licences', () => {
    const basket = softwareBasket({ institutionId: 'I1', features: ['MPR', 'BASE_SUITE', 'FUSION'] });
    expect(basket.lines.map((l) => l.product)).toEqual(['LICENCE_BASE_SUITE', 'LICENCE_MPR', 'LICENCE_FUSION']);
    expect(basket.owners).toEqual(['feature:BASE_SUITE', 'feature:MPR', 'feature:FUSION']);
    expect(basket.lines.every((l) => l.institutionId === 'I1')).toBe(true);
  });

  it('names a new institution for a service instead of an id (R-SVC-4)', () => {
    const base = { product: 'SERVICE_MAINTENANCE' as const, variant: 'LOCAL' as const, quantity: 1, years: 2, startsOn: '', institutionId: 'I1', institutionName: ' New Clinic ' };
    expect(serviceBasket({ ...base, existing: false }).lines[0]).toEqual({ product: 'SERVICE_MAINTENANCE', quantity: 1, variant: 'LOCAL', years: 2, institutionName: 'New Clinic' });
    expect(serviceBasket({ ...base, existing: true, product: 'SERVICE_CUSTOM_DEV' }).lines[0]).toEqual({ product: 'SERVICE_CUSTOM_DEV', quantity: 1, institutionId: 'I1' });
  });

  it('sends each server error to the control that owns the line', () => {
    const owners = ['feature:BASE_SUITE', 'feature:MPR'];
    const out = errorsByControl(
      [err('lines[1].product', 'held'), err('lines[0].institutionId', 'no such'), err('acceptTerms', 'accept'), err('lines[7].quantity', 'lost'), err(null, 'agreement')],
      owners,
    );
    expect(out.controls).toEqual({ 'feature:MPR': ['held'], institution: ['no such'], acceptTerms: ['accept'] });
    expect(out.general).toEqual(['lost', 'agreement']);
  });

  it('shows a quantity refusal under the quantity input', () => {
    const { owners } = resourceBasket({ product: 'EXAM_VOLUME', quantity: 15_000, years: 1 });
    expect(errorsByControl([err('lines[0].quantity', 'whole 10,000s')], owners).controls).toEqual({ quantity: ['whole 10,000s'] });
  });
});

describe('offline order preview', () => {
  const catalog = [
    { code: 'AI_LICENCE_GLAUCOMA', family: 'AI_LICENCE', unit: 1, perYear: false, perInstitution: true, unitPriceFen: 20_000_000 },
    { code: 'EXAM_ANNUAL', family: 'EXAM', unit: 10_000, perYear: true, perInstitution: false, unitPriceFen: 12 },
    { code: 'SERVICE_CUSTOM_DEV', family: 'SERVICE', unit: 1, perYear: false, perInstitution: true, unitPriceFen: null },
  ];

  it('prices by the guide formulas, years included', () => {
    const preview = previewOffline(
      [
        { product: 'AI_LICENCE_GLAUCOMA', quantity: 1, institutionId: 'I1' },
        { product: 'EXAM_ANNUAL', quantity: 100_000, years: 15 },
      ],
      catalog,
    );
    expect(preview.lines.map((l) => l.amountFen)).toEqual([20_000_000, 18_000_000]);
    expect(preview.totalFen).toBe(38_000_000);
  });

  it('has no total while a product has no price', () => {
    expect(previewOffline([{ product: 'SERVICE_CUSTOM_DEV', quantity: 1 }], catalog).totalFen).toBeNull();
  });

  it('sends only the inputs a product takes', () => {
    const info = catalog[0];
    expect(toOrderLine({ product: 'AI_LICENCE_GLAUCOMA', quantity: 1, years: 3, institutionId: 'I1', variant: 'LOCAL', startsOn: '' }, info)).toEqual({
      product: 'AI_LICENCE_GLAUCOMA',
      quantity: 1,
      institutionId: 'I1',
    });
  });
});
