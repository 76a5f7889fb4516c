import 'vue-router';

export type MenuGroup = 'account' | 'commerce' | 'records' | 'operator';

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page title (and menu entry). */
    title?: string;
    /** Reachable without a session (the login and invitation pages). */
    public?: boolean;
    /** Operators only. */
    operator?: boolean;
    /** Shown in the side menu under this group. */
    group?: MenuGroup;
    /** Menu icon name (tdesign-icons-vue-next). */
    icon?: string;
    /** Not in the side menu (detail pages). */
    hidden?: boolean;
    /** The menu entry to highlight for a detail page. */
    activeMenu?: string;
  }
}
