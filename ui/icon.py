"""The app's favicon, drawn here: a named Material icon makes the browser fetch it from Google's
font CDN on every load (a failed request offline), and an image is served by the app itself."""

from __future__ import annotations

import numpy as np
from PIL import Image

# viridis at 0, 0.35 and 1: the colours of an attention pattern's empty, faint and full cells
_EMPTY, _FAINT, _FULL = (68, 1, 84), (38, 130, 142), (253, 231, 37)


def page_icon(size: int = 32) -> Image.Image:
    """A causal attention pattern, its diagonal lit and the future empty (a PIL image: Streamlit
    compares a page icon with strings, which a numpy array cannot answer)."""
    q, k = np.indices((size, size))
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = _EMPTY
    image[k < q] = _FAINT
    image[np.abs(k - q) <= size // 16] = _FULL
    return Image.fromarray(image)
