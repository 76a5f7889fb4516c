/**
 * Irreversible actions ask first: a dialog that names what will happen (amount, order,
 * account) and acts only on its own confirm button. Resolves true when confirmed.
 */
import { DialogPlugin } from 'tdesign-vue-next';
import { h } from 'vue';

export interface AskFirst {
  header: string;
  /** One sentence saying what will happen and that it cannot be undone. */
  summary: string;
  /** The figures it will happen with: label and value, e.g. amount, order number, account. */
  facts: { label: string; value: string }[];
  confirm: string;
  cancel: string;
}

export function askFirst(ask: AskFirst): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: boolean) => {
      if (settled) return;
      settled = true;
      resolve(answer);
      dialog.hide();
      setTimeout(() => dialog.destroy(), 300);
    };
    const dialog = DialogPlugin.confirm({
      header: ask.header,
      className: 'ib-ask-first',
      theme: 'warning',
      width: 'min(480px, calc(100vw - 32px))',
      body: () =>
        h('div', { 'data-testid': 'ask-first' }, [
          h('p', { class: 'ib-ask-first__summary' }, ask.summary),
          h(
            'dl',
            { class: 'ib-ask-first__facts' },
            ask.facts.flatMap((f) => [h('dt', f.label), h('dd', f.value)]),
          ),
        ]),
      confirmBtn: { content: ask.confirm, theme: 'primary' },
      cancelBtn: ask.cancel,
      onConfirm: () => settle(true),
      onCancel: () => settle(false),
      onClose: () => settle(false),
    });
  });
}
