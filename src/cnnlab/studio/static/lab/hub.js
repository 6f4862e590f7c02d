// #/learn: the lecture's ideas, in its order, each a page to poke on your own pictures.

import {h, TOPICS, useStyle} from './common.js';

export async function hubScreen(view) {
  useStyle('lab');
  view.append(
    h('div', {class: 'page-head'},
      h('h1', {tabindex: '-1'}, 'Learn how a CNN sees'),
      h('p', {class: 'lead'}, 'Ten ideas from the lecture "Introduction to CNNs", one page each. Every page works on a ' +
        'picture you choose (a sample, your own photo or a webcam snapshot), and every number it shows is computed by ' +
        'cnnlab, the same way the real training does.')),
    h('ol', {class: 'lab-cards'}, TOPICS.map((t, i) => h('li', {},
      h('a', {class: 'card lab-card', href: `#/learn/${t.key}`, dataset: {topic: t.key}},
        h('span', {class: 'lab-card-icon', 'aria-hidden': 'true'}, t.icon),
        h('span', {class: 'lab-card-text'},
          h('span', {class: 'lab-card-title'}, `${i + 1}. ${t.title}`),
          h('span', {class: 'muted'}, t.text)))))));
}
