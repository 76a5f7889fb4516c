/** Screenshots taken by a driven browser (navigator.webdriver) must not catch a chart mid-animation. */
export function chartAnimationEnabled(): boolean {
  return !(typeof navigator !== 'undefined' && navigator.webdriver);
}
