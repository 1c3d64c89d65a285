// Lets a test hide and show the tab: headless Chromium keeps every page
// visible, so the page's view of `document.visibilityState` is switched by
// `window.parleyTestSetHidden(true|false)`, which also fires `visibilitychange`.
export function emulateVisibility(context) {
  return context.addInitScript(() => {
    let hidden = false;
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get() { return hidden ? 'hidden' : 'visible'; } });
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get() { return hidden; } });
    window.parleyTestSetHidden = (value) => { hidden = value; document.dispatchEvent(new Event('visibilitychange')); };
  });
}
