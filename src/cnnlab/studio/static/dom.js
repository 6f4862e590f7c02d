// Small DOM helpers: build elements without innerHTML (text is always text, never markup).

/** h('button', {class: 'primary', onclick: fn}, 'Save') -> <button class="primary">Save</button> */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Append children: nodes, strings, numbers; arrays are flattened; null/false are skipped. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** '1 photo', '3 photos' */
export function plural(n, one, many = one + 's') {
  return `${n} ${n === 1 ? one : many}`;
}

/** 0.934 -> '93%' (digits: decimals) */
export function percent(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return `${(100 * x).toFixed(digits)}%`;
}

/** 75 -> 'about 1 minute 15 seconds' */
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  if (s < 60) return plural(s, 'second');
  const m = Math.floor(s / 60);
  const rest = s % 60;
  return rest ? `${plural(m, 'minute')} ${plural(rest, 'second')}` : plural(m, 'minute');
}

/** A message in the corner that goes away by itself (read out by screen readers). */
export function toast(message, kind = 'info', ms = 5000) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', {id: 'toasts', class: 'toasts', 'aria-live': 'polite'});
    document.body.append(box);
  }
  const item = h('div', {class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status'}, message);
  box.append(item);
  setTimeout(() => item.remove(), ms);
  return item;
}

/** A modal dialog (native <dialog>: Esc closes it, focus stays inside). Returns {dialog, body, close}. */
export function openDialog(title, {wide = false, onClose} = {}) {
  const body = h('div', {class: 'dialog-body'});
  const closeButton = h('button', {class: 'icon-button', type: 'button', 'aria-label': 'Close'}, '✕');
  const heading = h('h2', {id: 'dialog-title'}, title);
  const dialog = h('dialog', {class: wide ? 'wide' : '', 'aria-labelledby': 'dialog-title'},
    h('div', {class: 'dialog-head'}, heading, closeButton), body);
  const close = () => dialog.close();
  closeButton.addEventListener('click', close);
  dialog.addEventListener('click', (e) => { if (e.target === dialog) close(); });  // a click on the backdrop
  dialog.addEventListener('close', () => { dialog.remove(); if (onClose) onClose(); });
  document.body.append(dialog);
  dialog.showModal();
  return {dialog, body, close};
}

/** A box with the error's message in plain words. */
export function errorBox(error) {
  return h('div', {class: 'notice notice-error', role: 'alert'}, cleanMessage(error));
}

/** The readable part of an error message: never a stack trace. */
export function cleanMessage(error) {
  let text = String((error && error.message) || error || 'Something went wrong.');
  const cut = text.search(/Traceback \(most recent call last\)|\n\s+File "/);
  if (cut > 0) text = text.slice(0, cut);
  text = text.trim();
  if (text.length > 400) text = text.slice(0, 400).trimEnd() + '…';
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Wait `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
