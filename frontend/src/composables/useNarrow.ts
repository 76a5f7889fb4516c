/** True while the window is phone-narrow (below 768 px, TDesign's `md` breakpoint). */
import { onBeforeUnmount, ref, type Ref } from 'vue';

export const NARROW_QUERY = '(max-width: 767.98px)';

export function useNarrow(): Ref<boolean> {
  const query = window.matchMedia(NARROW_QUERY);
  const narrow = ref(query.matches);
  const update = (event: MediaQueryListEvent) => {
    narrow.value = event.matches;
  };
  query.addEventListener('change', update);
  onBeforeUnmount(() => query.removeEventListener('change', update));
  return narrow;
}
