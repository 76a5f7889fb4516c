import { describe, expect, it } from 'vitest';
import { labelInputs } from '@/directives/inputLabels';

describe('input labels', () => {
  it('names each inner input by the first selector it matches and keeps existing names', () => {
    // given a pagination-like block with a size select, a jumper and a labelled input
    document.body.innerHTML = `
      <div id="root">
        <div class="t-pagination__select"><input id="size"></div>
        <div class="t-pagination__jump"><input id="jump"></div>
        <label for="named">Named</label><input id="named">
      </div>`;
    const root = document.getElementById('root')!;
    // when labelled
    labelInputs(root, { '.t-pagination__jump input': 'Go to page', input: 'Page size' });
    // then the jumper and the select have their names; the labelled one is left alone
    expect(document.getElementById('jump')!.getAttribute('aria-label')).toBe('Go to page');
    expect(document.getElementById('size')!.getAttribute('aria-label')).toBe('Page size');
    expect(document.getElementById('named')!.hasAttribute('aria-label')).toBe(false);
  });
});
