"""BertViz's head view, self-contained: the prompt's tokens in two columns (queries left, keys
right) and a line from each query to each key, as opaque as its attention weight.

Hover a token on the left to see where it attends (its lines, and its keys shaded by weight);
hover one on the right to see what attends to it. Buttons pick the heads drawn (each its colour).
The page gets one HTML string with the weights inlined as JSON and a short script; tokens are
HTML-escaped, and nothing is fetched. The script must never hold a "<" followed by a letter or
"/": the page's sanitiser (DOMPurify) drops a script whose text looks like markup.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from viz.colors import RUN_PALETTE
from viz.labels import visible
from viz.shapes import Shapes

if TYPE_CHECKING:
    from jaxtyping import Float

ROW_PX = 20  # height of one token's row
LINES_AT_REST = 64  # up to this many tokens every line is drawn until a token is hovered

_SCRIPT = """
(function init(tries) {
  // the page may run this before it has attached the element: look again shortly
  const root = document.getElementById(%(id)s);
  if (!root) { if (tries > 0) setTimeout(() => init(tries - 1), 50); return; }
  if (root.dataset.ready) return;
  root.dataset.ready = "1";
  const W = %(weights)s, colours = %(colours)s, n = %(n)d, rowPx = %(row)d, atRest = %(rest)s;
  // the lines' canvas is made here: the page's HTML sanitiser drops inline SVG markup
  const ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
  const box = root.querySelector(".tv-lines");
  svg.setAttribute("width", box.style.width); svg.setAttribute("height", box.style.height);
  svg.setAttribute("viewBox", `0 0 100 ${n * rowPx}`);
  svg.setAttribute("preserveAspectRatio", "none");
  box.appendChild(svg);
  const active = new Set(%(active)s);
  const keys = root.querySelectorAll(".tv-k"), queries = root.querySelectorAll(".tv-q");
  function shade(cells, strength) {
    cells.forEach((el, i) => {
      const w = strength[i];
      el.style.background = w > 0.005 ? `rgba(255, 140, 0, ${Math.min(1, w).toFixed(3)})` : "";
      el.dataset.w = w.toFixed(4);
    });
  }
  function draw(q, k) {
    svg.replaceChildren();
    const qs = [], ks = [];
    for (let i = 0; i < n; i++) { qs.push(0); ks.push(0); }
    for (const h of active) {
      for (let i = 0; i < n; i++) {
        if (q !== null && i !== q) continue;
        for (let j = 0; j < n; j++) {
          if (k !== null && j !== k) continue;
          const w = W[h][i][j] / 255;
          if (q !== null) ks[j] = Math.max(ks[j], w);
          if (k !== null) qs[i] = Math.max(qs[i], w);
          if (w < 0.01) continue;
          const line = document.createElementNS(ns, "line");
          line.setAttribute("x1", 0); line.setAttribute("x2", 100);
          line.setAttribute("y1", (i + 0.5) * rowPx); line.setAttribute("y2", (j + 0.5) * rowPx);
          line.setAttribute("stroke", colours[h]); line.setAttribute("stroke-width", 2);
          line.setAttribute("stroke-opacity", w.toFixed(3));
          svg.appendChild(line);
        }
      }
    }
    shade(keys, ks); shade(queries, qs);
  }
  const zeros = Array(n).fill(0);
  function rest() {
    if (atRest) draw(null, null);
    else svg.replaceChildren();
    shade(keys, zeros); shade(queries, zeros);
  }
  queries.forEach((el, i) => { el.onmouseenter = () => draw(i, null); el.onmouseleave = rest; });
  keys.forEach((el, j) => { el.onmouseenter = () => draw(null, j); el.onmouseleave = rest; });
  root.querySelectorAll(".tv-head").forEach((b) => {
    b.onclick = () => {
      const h = Number(b.dataset.head);
      if (active.has(h)) active.delete(h); else active.add(h);
      b.style.opacity = active.has(h) ? 1 : 0.35;
      rest();
    };
  });
  rest();
})(100);
"""


def token_view_html(
    patterns: Float[np.ndarray, "head q_pos k_pos"],
    tokens: Sequence[str],
    *,
    layer: int = 0,
    heads: Sequence[int] = (0,),
) -> str:
    """One layer's heads as BertViz's head view; `heads` are drawn at first, the others a click
    away."""
    s = Shapes("token_view_html")
    p = s.array(patterns, "head q_pos k_pos", "patterns")
    toks = s.tokens(tokens, "q_pos", "k_pos")
    n_heads, n = p.shape[0], len(toks)
    # weights as 0..255: what a line's opacity can show, and a third of the JSON of decimals
    weights = np.rint(np.clip(np.nan_to_num(p.astype(np.float64)), 0, 1) * 255).astype(int).tolist()
    colours = [RUN_PALETTE[h % len(RUN_PALETTE)] for h in range(n_heads)]
    digest = hashlib.sha1(
        json.dumps([layer, list(heads), weights, list(toks)]).encode()
    ).hexdigest()
    uid = f"tv-{digest[:12]}"
    cells = "".join(
        f'<div class="tv-{side}" data-pos="{i}" title="{i}" style="height:{ROW_PX}px;'
        f"line-height:{ROW_PX}px;padding:0 6px;white-space:pre;font-family:monospace;"
        f'cursor:default;text-align:{align}">{html.escape(visible(t))}</div>'
        for side, align in (("q", "right"),)
        for i, t in enumerate(toks)
    )
    keys = cells.replace('class="tv-q"', 'class="tv-k"').replace(
        "text-align:right", "text-align:left"
    )
    buttons = "".join(
        f'<button class="tv-head" data-head="{h}" style="border:none;margin:0 4px 4px 0;'
        f"padding:2px 8px;color:white;background:{colours[h]};"
        f'opacity:{1 if h in heads else 0.35};cursor:pointer">H{h}</button>'
        for h in range(n_heads)
    )
    script = _SCRIPT % {
        "id": json.dumps(uid),
        "weights": json.dumps(weights),
        "colours": json.dumps(colours),
        "n": n,
        "row": ROW_PX,
        "rest": "true" if n <= LINES_AT_REST else "false",
        "active": json.dumps([h for h in heads if 0 <= h < n_heads]),
    }
    height = n * ROW_PX
    return (
        f'<div id="{uid}" class="tv-root" data-layer="{layer}">'
        f'<div style="font-size:0.85rem;margin-bottom:4px">Layer {layer} · heads: {buttons}</div>'
        f'<div style="display:flex;align-items:flex-start">'
        f"<div>{cells}</div>"
        f'<div class="tv-lines" style="width:200px;height:{height}px;flex:none"></div>'
        f"<div>{keys}</div></div></div><script>{script}</script>"
    )
