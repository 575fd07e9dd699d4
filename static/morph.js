// Brings an element's content to new markup by changing only what differs: where the new markup
// has the same elements in the same places, their text and attributes are updated in place; a
// subtree that differs is replaced. A panel of equations whose numbers change keeps its MathML
// elements, their style and most of their layout, instead of being parsed and laid out anew.

const scratch = document.createElement("template");

// Makes root's children equal to `html` (a string the caller built and escaped).
export function morph(root, html) {
  scratch.innerHTML = html; // parsed in an inert template: no style, layout or image loads yet
  patch(root, scratch.content);
  scratch.innerHTML = "";
}

const same = (a, b) => a.nodeType === b.nodeType && a.nodeName === b.nodeName && a.namespaceURI === b.namespaceURI;

function patch(to, from) {
  const want = Array.from(from.childNodes);
  want.forEach((y, k) => {
    const x = to.childNodes[k];
    if (!x) to.appendChild(y);
    else if (!same(x, y)) to.replaceChild(y, x);
    else if (x.nodeType === Node.ELEMENT_NODE) {
      attributes(x, y);
      patch(x, y);
    } else if (x.nodeValue !== y.nodeValue) x.nodeValue = y.nodeValue;
  });
  while (to.childNodes.length > want.length) to.lastChild.remove();
}

function attributes(x, y) {
  for (const a of Array.from(x.attributes)) if (!y.hasAttribute(a.name)) x.removeAttribute(a.name);
  for (const a of Array.from(y.attributes)) if (x.getAttribute(a.name) !== a.value) x.setAttribute(a.name, a.value);
}
