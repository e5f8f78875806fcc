"""Render the first page of the default exam's PDF sheet and key to docs/sheet-page1.png and docs/key-page1.png,
and the sheet's page after problem 4 begins (its network figure) to docs/sheet-figure-page.png.

    python docs/pictures.py        (or: make pictures)

The exam is the default blueprint at seed 2024 with the numpy engine, so the pictures change only when the
sheet's or the key's layout does. PNGs are written by a few lines of zlib (no imaging library needed).
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SEED = 2024
SCALE = 1.4  # 72 dpi times this: a page about 830 pixels wide


def png_bytes(rgb) -> bytes:
    """An 8-bit RGB image (height x width x 3 array) as PNG bytes."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def first_page_png(pdf: bytes, containing: str | None = None, after: int = 0) -> bytes:
    """The first page (or the `after`-th page after the first that shows the text `containing`) as PNG bytes."""
    import numpy as np
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    index = 0
    if containing is not None:
        index = next(i for i in range(len(doc)) if containing in doc[i].get_textpage().get_text_range()) + after
    page = doc[index]
    bitmap = page.render(scale=SCALE, rev_byteorder=True)
    return png_bytes(np.ascontiguousarray(bitmap.to_numpy()[:, :, :3]))


def main() -> int:
    from i2dl.course import use_course
    from i2dl.exam import build_exam
    from i2dl.export.pdf import key_pdf, sheet_pdf

    with use_course(None):  # the shipped library and the default settings, wherever this runs
        exam = build_exam("default", SEED, engine_name="numpy")
        sheet = sheet_pdf(exam)
        for name, data, text, after in (("sheet-page1.png", sheet, None, 0), ("key-page1.png", key_pdf(exam), None, 0),
                                        ("sheet-figure-page.png", sheet, "Problem 4", 1)):  # the network figure
            (DOCS / name).write_bytes(first_page_png(data, text, after))
            print(DOCS / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
