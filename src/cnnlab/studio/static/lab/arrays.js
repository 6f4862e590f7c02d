// #/learn/arrays (being built).

import {labFrame, h} from './common.js';

export default async function page(view) {
  const {body} = labFrame(view, 'arrays');
  body.append(h('p', {class: 'muted'}, 'This page is being built.'));
}
