/**
 * `v-input-labels="{ '.t-pagination__jump input': 'Go to page', input: 'Page size' }"`:
 * names the native inputs a TDesign component draws inside itself, which its props cannot
 * reach (an `aria-label` on the component lands on its wrapper). The first matching
 * selector names an input; inputs that already have a name keep it. Watches for
 * re-renders, as the components redraw their inputs.
 */
import type { Directive } from 'vue';

export type InputLabels = Record<string, string>;

export function labelInputs(root: Element, labels: InputLabels): void {
  const selectors = Object.keys(labels);
  for (const input of root.querySelectorAll('input')) {
    if (input.labels && input.labels.length > 0) continue;
    const selector = selectors.find((s) => input.matches(s));
    const label = selector === undefined ? undefined : labels[selector];
    if (label && input.getAttribute('aria-label') !== label) input.setAttribute('aria-label', label);
  }
}

const watching = new WeakMap<Element, { observer: MutationObserver; labels: InputLabels }>();

export const vInputLabels: Directive<HTMLElement, InputLabels> = {
  mounted(el, binding) {
    const state = { labels: binding.value, observer: new MutationObserver(() => labelInputs(el, state.labels)) };
    watching.set(el, state);
    labelInputs(el, binding.value);
    state.observer.observe(el, { childList: true, subtree: true });
  },
  updated(el, binding) {
    const state = watching.get(el);
    if (state) state.labels = binding.value;
    labelInputs(el, binding.value);
  },
  unmounted(el) {
    watching.get(el)?.observer.disconnect();
    watching.delete(el);
  },
};
