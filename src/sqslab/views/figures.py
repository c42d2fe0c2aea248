"""Pictures as outputs: PNG bytes, and HTML that shows the variant matching the page's theme.

A PNG does not follow the page's CSS, so every picture of the bench is drawn twice, on a light and
on a dark background, and the HTML holds both: the light one shows by default, the dark one where
JupyterLab says its theme is dark (``body[data-jp-theme-light="false"]``), or inside an element
of class ``sqslab-dark``, or, inside an element of class ``sqslab-auto-theme``, when the reader's
system prefers dark (a stand-alone page such as a feedback page can opt in with that class).

Each ``<img>`` carries its smallest text in ``data-sqslab-min-text-px`` (CSS px at the image's
natural size), so a browser test can check the text a reader sees: that number times the shown
width over the natural width.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Iterable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["png_of", "min_text_px", "figure_html", "THEME_CSS"]

#: Shows the image of the page's theme; repeated in every output (it is the same rule each time).
THEME_CSS = (
    "<style>"
    ".sqslab-figure img.sqslab-on-dark{display:none}"
    "body[data-jp-theme-light='false'] .sqslab-figure img.sqslab-on-light,"
    ".sqslab-dark .sqslab-figure img.sqslab-on-light{display:none}"
    "body[data-jp-theme-light='false'] .sqslab-figure img.sqslab-on-dark,"
    ".sqslab-dark .sqslab-figure img.sqslab-on-dark{display:inline-block}"
    "@media (prefers-color-scheme: dark){"
    ".sqslab-auto-theme .sqslab-figure img.sqslab-on-light{display:none}"
    ".sqslab-auto-theme .sqslab-figure img.sqslab-on-dark{display:inline-block}}"
    "</style>"
)


def png_of(fig: Figure, dpi: float = 100) -> tuple[bytes, int, int]:
    """``(png, width, height)`` of ``fig`` rendered at ``dpi`` (the same figure, the same bytes)."""
    from PIL import Image  # matplotlib's own dependency

    fig.set_dpi(dpi)
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = canvas.buffer_rgba()
    height, width = rgba.shape[0], rgba.shape[1]
    # Saved by hand rather than by savefig: the picture is opaque, so RGB is enough, there is no
    # timestamp or metadata, and zlib level 3 saves a fifth of the time for a file a few percent larger.
    image = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="png", compress_level=3)
    return buffer.getvalue(), width, height


def min_text_px(fig: Figure) -> float:
    """The smallest text of ``fig``, in px at 100 dpi (its natural size as the bench shows it)."""
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))
             if t.get_visible() and str(t.get_text()).strip()]
    return round(min(sizes) / 0.72, 2) if sizes else 0.0


def figure_html(variants: Iterable[tuple[str, bytes]], *, width: float, height: float, alt: str,
                min_text: float, density: float = 1.0, classes: str = "", caption: str = "",
                img_attrs: str = "", img_class: str = "") -> str:
    """A ``<figure>`` with one ``<img>`` per theme (``[("light", png), ("dark", png)]``).

    ``width`` and ``height`` are CSS px at the natural size; ``density`` is image px per CSS px
    (a PNG rendered at 200 dpi has density 2, and still shows at ``width`` CSS px). ``alt`` is
    given to every variant (only one is ever displayed); ``caption`` is HTML put in a
    ``<figcaption>``; ``img_class`` and ``img_attrs`` go on every ``<img>``.
    """
    images = []
    for theme, png in variants:
        data = base64.b64encode(png).decode("ascii")
        src = f'src="data:image/png;base64,{data}"'
        if density != 1:
            src += f' srcset="data:image/png;base64,{data} {density:g}x"'
        names = " ".join(filter(None, [f"sqslab-on-{theme}", img_class]))
        images.append(
            f'<img class="{names}" {src} alt="{html.escape(alt, quote=True)}" '
            f'width="{round(width)}" height="{round(height)}" data-sqslab-min-text-px="{min_text:g}" '
            f'style="max-width:100%;height:auto"{(" " + img_attrs) if img_attrs else ""}>')
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    names = " ".join(filter(None, ["sqslab-figure", classes]))
    return f'<figure class="{names}" style="margin:0">{THEME_CSS}' + "".join(images) + cap + "</figure>"
