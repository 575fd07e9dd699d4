// One notation for every parameter, wherever a name is written: w⁽ˡ⁾ⱼ,ᵢ is the weight into unit
// j of layer l from unit i of layer l − 1, b⁽ˡ⁾ⱼ the bias of unit j (units counted from 1), as
// the equations write them in MathML.

const SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹";
const SUB = "₀₁₂₃₄₅₆₇₈₉";
const sup = (n) => [...String(n)].map((d) => SUP[+d]).join("");
const sub = (n) => [...String(n)].map((d) => SUB[+d]).join("");

// plain text, for tooltips and labels (l from 1, j and i from 0 as the arrays count)
export const weightText = (l, j, i) => `w⁽${sup(l)}⁾${sub(j + 1)},${sub(i + 1)}`;
export const biasText = (l, j) => `b⁽${sup(l)}⁾${sub(j + 1)}`;

// HTML, for buttons and headings: numbers only, so safe as markup
export const weightHTML = (l, j, i) => `w<sub>${j + 1},${i + 1}</sub><sup>(${l})</sup>`;
export const biasHTML = (l, j) => `b<sub>${j + 1}</sub><sup>(${l})</sup>`;
