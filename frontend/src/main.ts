import { createPinia } from 'pinia';
import { createApp } from 'vue';
import 'tdesign-vue-next/es/style/index.css';
import App from './App.vue';
import { i18n } from './locales';
import { router } from './router';
import './styles/console.css';

createApp(App).use(createPinia()).use(i18n).use(router).mount('#app');
