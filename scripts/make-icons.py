#!/usr/bin/env python3
"""Draws TokenTray's app icon (a green ring with a key slot) as RGBA PNGs and
a Windows .ico, stdlib only. The tray's icons are drawn by
examples/draw_tray_icons.rs.

Run from the repository root: python3 scripts/make-icons.py
"""
import math
import struct
import zlib

COLOURS = {
    "icon": (46, 160, 67),      # the app icon uses the green state
    "tray-green": (46, 160, 67),
    "tray-orange": (230, 126, 34),
    "tray-red": (214, 48, 49),
    "tray-expired": (120, 120, 120),
    "tray-none": (170, 170, 170),
}


def png(width, height, pixel):
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y, width)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def ring(colour, crossed):
    def pixel(x, y, size):
        c = (size - 1) / 2
        r = math.hypot(x - c, y - c) / (size / 2)
        on_ring = 0.55 <= r <= 0.95
        on_cross = crossed and abs((x - c) - (y - c)) < size * 0.06 and r <= 0.95
        if on_ring or on_cross or r < 0.3:
            return (*colour, 255)
        return (0, 0, 0, 0)
    return pixel


def ico(images):
    """A Windows icon holding each (size, PNG) as is (Vista and later read PNG entries)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, blobs = b"", b""
    for size, data in images:
        side = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset + len(blobs))
        blobs += data
    return header + entries + blobs


if __name__ == "__main__":
    # The executable's and the installer's icon on Windows (tauri-build
    # embeds it as a resource when building for Windows).
    with open("icons/icon.ico", "wb") as f:
        f.write(ico([(s, png(s, s, ring(COLOURS["icon"], False))) for s in (16, 24, 32, 48, 64, 256)]))
    for name, colour in COLOURS.items():
        if name != "icon":
            continue  # the tray's: examples/draw_tray_icons.rs
        sizes = [32, 128, 512] if name == "icon" else [64]
        for size in sizes:
            data = png(size, size, ring(colour, name == "tray-expired"))
            if name == "icon":
                path = "icons/icon.png" if size == 512 else f"icons/{size}x{size}.png"
            else:
                path = f"icons/{name}.png"
            with open(path, "wb") as f:
                f.write(data)
