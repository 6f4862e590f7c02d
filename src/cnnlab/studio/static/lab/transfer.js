// #/learn/transfer (being built).

import {labFrame, h} from './common.js';

export default async function page(view) {
  const {body} = labFrame(view, 'transfer');
  body.append(h('p', {class: 'muted'}, 'This page is being built.'));
}
