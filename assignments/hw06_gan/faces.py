"""Procedurally drawn anime-style faces (the HW6 stand-in for the Crypko faces; HW8's "normal" images).

    from faces import draw_faces                      # or import this file by path
    imgs = draw_faces(np.random.default_rng(0), n=16, size=64)   # uint8 (16, 64, 64, 3)

A face is a set of attributes drawn from fixed distributions (`sample_attributes`) and painted with soft,
anti-aliased shapes (`render`), back to front: background and shoulders, hair behind the head (long hair,
twin tails, a bob), neck, the face (an ellipse narrowing to a chin), a fringe of bangs over the forehead
and side locks, eyes (white, iris with a darker top, pupil, a thick upper lid, one or two highlights),
eyebrows, mouth, blush. Everything is numpy, vectorised over the batch; the same generator state and size
give the same bytes.

Categorical attributes (the labels a classifier can learn, see `CATEGORIES`):

    hair_colour  black brown blonde red pink blue silver green purple (Crypko-like frequencies)
    hair_style   short long twintails bob
    bangs        straight spiky swept
    eye_colour   blue green red brown purple gold
    mouth        line open smile
    blush        no yes

Continuous ones: position and size of the head, face width, chin, skin tone, eye size, spacing and height,
the fringe's height, colour jitter of hair and eyes, background and clothes colours.

`render(attrs, size)` accepts edited attributes, so callers can draw variants (faces without eyes, eyes in
the wrong place, …): `eye_scale` 0 removes the eyes, `face_scale` scales the head, and so on.
"""

from __future__ import annotations

import numpy as np

CATEGORIES = {
    "hair_colour": ["black", "brown", "blonde", "red", "pink", "blue", "silver", "green", "purple"],
    "hair_style": ["short", "long", "twintails", "bob"],
    "bangs": ["straight", "spiky", "swept"],
    "eye_colour": ["blue", "green", "red", "brown", "purple", "gold"],
    "mouth": ["line", "open", "smile"],
    "blush": ["no", "yes"],
}
PROBS = {
    "hair_colour": [0.14, 0.18, 0.16, 0.08, 0.10, 0.10, 0.10, 0.06, 0.08],
    "hair_style": [0.30, 0.35, 0.15, 0.20],
    "bangs": [0.40, 0.35, 0.25],
    "eye_colour": [0.25, 0.15, 0.17, 0.18, 0.13, 0.12],
    "mouth": [0.40, 0.25, 0.35],
    "blush": [0.6, 0.4],
}
HAIR_RGB = np.array([
    [0.13, 0.12, 0.16], [0.46, 0.29, 0.17], [0.96, 0.84, 0.47], [0.86, 0.32, 0.20], [0.97, 0.60, 0.76],
    [0.34, 0.50, 0.91], [0.83, 0.83, 0.90], [0.38, 0.74, 0.48], [0.56, 0.38, 0.77]], dtype=np.float32)
EYE_RGB = np.array([
    [0.22, 0.45, 0.92], [0.18, 0.66, 0.36], [0.85, 0.14, 0.20], [0.52, 0.30, 0.14], [0.58, 0.30, 0.84],
    [0.93, 0.70, 0.18]], dtype=np.float32)
SKIN_LIGHT = np.array([1.00, 0.93, 0.87], dtype=np.float32)
SKIN_DARK = np.array([0.92, 0.74, 0.62], dtype=np.float32)

CHUNK = 256  # images painted at once: bounds memory at (CHUNK, size, size) float32 per layer


def sample_attributes(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Attributes of `n` faces: categorical codes (int) and continuous values (float), one entry per face."""
    a: dict[str, np.ndarray] = {}
    for name, p in PROBS.items():
        a[name] = rng.choice(len(p), size=n, p=p)
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    a["face_x"] = rng.normal(0.0, 0.035, n)
    a["face_y"] = 0.06 + rng.normal(0.0, 0.035, n)
    a["face_scale"] = u(0.90, 1.08)
    a["face_width"] = u(0.90, 1.08)
    a["chin"] = u(0.25, 0.50)
    a["skin"] = rng.beta(2.0, 3.5, n)
    a["hair_light"] = np.exp(rng.normal(0.0, 0.10, n))
    a["hair_hue"] = rng.normal(0.0, 0.04, (n, 3))
    a["eye_light"] = np.exp(rng.normal(0.0, 0.12, n))
    a["eye_scale"] = u(0.88, 1.15)
    a["eye_tall"] = u(1.10, 1.45)
    a["eye_gap"] = u(0.40, 0.50)
    a["eye_y"] = u(0.02, 0.14)
    a["fringe"] = u(0.20, 0.40)
    a["fringe_phase"] = u(0.0, np.pi)
    a["swept_dir"] = rng.choice([-1.0, 1.0], n)
    a["mouth_y"] = u(0.50, 0.62)
    a["bg_hue"] = u(0.0, 1.0)
    a["bg_sat"] = u(0.08, 0.38)
    a["bg_val"] = u(0.80, 1.00)
    a["clothes_hue"] = u(0.0, 1.0)
    a["clothes_val"] = u(0.25, 0.95)
    return a


def draw_faces(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """`n` random faces, uint8 (n, size, size, 3). Stable signature: HW8 imports it."""
    return render(sample_attributes(rng, n), size)


def render(attrs: dict[str, np.ndarray], size: int) -> np.ndarray:
    n = len(attrs["hair_colour"])
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for lo in range(0, n, CHUNK):
        part = {k: np.asarray(v)[lo:lo + CHUNK] for k, v in attrs.items()}
        out[lo:lo + CHUNK] = _paint(part, size)
    return out


# --------------------------------------------------------------------------------------------- painting

def _hsv(h, s, v):
    """HSV -> RGB for arrays of shape (n,); returns (n, 3)."""
    i = np.floor(h * 6.0) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = np.zeros((len(h), 3))
    for k, (r, g, b) in enumerate(table):
        m = i == k
        rgb[m] = np.stack([r[m], g[m], b[m]], axis=1)
    return rgb.astype(np.float32)


class _Canvas:
    """A batch of images in [0, 1] with painting by soft coverage masks (n, S, S)."""

    def __init__(self, n: int, size: int):
        c = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
        self.y, self.x = c[None, :, None], c[None, None, :]           # (1, S, 1), (1, 1, S)
        self.pw = 2.0 / size                                          # one pixel in these units
        self.img = np.zeros((n, size, size, 3), dtype=np.float32)

    def window(self, x0, x1, y0, y1) -> "_Canvas":
        """The same canvas restricted to the pixels whose centres lie in [x0, x1] x [y0, y1] (plus a pixel):
        painting small parts there costs a fraction of the full image. Shares the image memory."""
        cols, rows = self.x[0, 0], self.y[0, :, 0]
        c0, c1 = np.searchsorted(cols, x0 - self.pw), np.searchsorted(cols, x1 + self.pw)
        r0, r1 = np.searchsorted(rows, y0 - self.pw), np.searchsorted(rows, y1 + self.pw)
        sub = object.__new__(_Canvas)
        sub.x, sub.y, sub.pw = self.x[:, :, c0:c1], self.y[:, r0:r1], self.pw
        sub.img = self.img[:, r0:r1, c0:c1]
        return sub

    def soft(self, d):
        """Coverage of a shape from its signed distance d (negative inside): anti-aliased over a pixel."""
        return np.clip(0.5 - d / self.pw, 0.0, 1.0)

    def ellipse_d(self, cx, cy, rx, ry):
        """Approximate signed distance to an axis-aligned ellipse; parameters are (n,) arrays."""
        cx, cy, rx, ry = (np.asarray(v, dtype=np.float32)[:, None, None] for v in (cx, cy, rx, ry))
        rx, ry = np.maximum(rx, 1e-4), np.maximum(ry, 1e-4)  # a zero-sized part (eye_scale 0) covers nothing
        q = np.sqrt(((self.x - cx) / rx) ** 2 + ((self.y - cy) / ry) ** 2)
        return (q - 1.0) * np.sqrt(rx * ry)

    def paint(self, alpha, colour, opacity=1.0):
        """Blend `colour` (n, 3) or an (n, S, S, 3) field into the images where `alpha` (n, S, S) covers."""
        a = (alpha * opacity if opacity != 1.0 else alpha)[..., None]
        col = colour if colour.ndim == 4 else colour[:, None, None, :]
        self.img += a * (col - self.img)  # in place: a window's view writes through


def _col(a):
    return np.asarray(a, dtype=np.float32)[:, None, None]


def _paint(a: dict[str, np.ndarray], size: int) -> np.ndarray:
    n = len(a["hair_colour"])
    cv = _Canvas(n, size)
    x, y = cv.x, cv.y
    s = a["face_scale"]
    cx, cy = a["face_x"], a["face_y"]
    fa = 0.48 * s * a["face_width"]      # face half-width
    fb = 0.56 * s                        # face half-height
    style, bangs = a["hair_style"], a["bangs"]

    # colours
    hair = np.clip(HAIR_RGB[a["hair_colour"]] * a["hair_light"][:, None] + a["hair_hue"], 0, 1).astype(np.float32)
    hair_dark = hair * 0.62
    skin = (SKIN_LIGHT[None] * (1 - a["skin"][:, None]) + SKIN_DARK[None] * a["skin"][:, None]).astype(np.float32)
    eye = np.clip(EYE_RGB[a["eye_colour"]] * a["eye_light"][:, None], 0, 1).astype(np.float32)
    bg = _hsv(a["bg_hue"], a["bg_sat"], a["bg_val"])
    clothes = _hsv(a["clothes_hue"], np.full(n, 0.45), a["clothes_val"])

    # background: a soft vertical gradient
    shade = (1.0 - 0.12 * (y + 1) / 2)[..., None]                                  # (1, S, 1, 1)
    cv.img = np.broadcast_to(bg[:, None, None, :] * shade, cv.img.shape).copy()

    # shoulders and clothes
    cv.paint(cv.soft(cv.ellipse_d(cx, np.full(n, 1.25), 0.95 * s, 0.42 * s)), clothes)

    # hair behind the head, by style. Hair gets a top-lit shading field.
    hair_field = hair[:, None, None, :] * (1.08 - 0.25 * (y[..., None] - _col(cy)[..., None] + 1) / 2)
    hair_field = np.clip(hair_field, 0, 1)
    top = cv.ellipse_d(cx, cy - 0.10 * s, fa * 1.22, fb * 1.08)                  # the skull with hair
    back = top.copy()
    long_ = style == 1
    if long_.any():  # straight long hair down past the shoulders
        d = np.maximum(np.abs(x - _col(cx)) - _col(fa * 1.28), _col(cy) - y)    # a slab below the centre
        back = np.where(_col(long_), np.minimum(back, d), back)
    tw = style == 2
    if tw.any():  # twin tails on both sides
        for side in (-1.0, 1.0):
            d = cv.ellipse_d(cx + side * fa * 1.45, cy + 0.30 * s, 0.22 * s, 0.62 * s)
            back = np.where(_col(tw), np.minimum(back, d), back)
    bob = style == 3
    if bob.any():  # a bob down to the chin
        d = np.maximum(cv.ellipse_d(cx, cy - 0.05 * s, fa * 1.32, fb * 1.12), y - _col(cy + fb * 0.55))
        back = np.where(_col(bob), np.minimum(back, d), back)
    cv.paint(cv.soft(back), hair_field)

    # neck, then the face: an ellipse whose lower half narrows to a chin
    neck = np.maximum(np.abs(x - _col(cx)) - _col(fa * 0.33), _col(cy) - y)
    cv.paint(cv.soft(neck), skin * 0.88)
    dy = y - _col(cy)
    taper = 1.0 - _col(a["chin"]) * np.clip(dy / _col(fb), 0, 1) ** 1.5
    q = np.sqrt(((x - _col(cx)) / (_col(fa) * taper)) ** 2 + (dy / _col(fb)) ** 2)
    face_d = (q - 1.0) * _col(np.sqrt(fa * fb)) * 0.8
    cv.paint(cv.soft(face_d), skin)

    # fringe: hair over the forehead above a wavy line, inside the skull ellipse; side locks over the cheeks
    xr = (x - _col(cx)) / _col(fa)
    base = _col(cy - fb * a["fringe"])
    amp = np.where(bangs == 1, 0.20, 0.03)[:, None, None] * _col(fb)
    freq = np.where(bangs == 1, 2.4, 5.0)[:, None, None]
    wave = amp * np.abs(np.sin(freq * np.pi * xr / 2 + _col(a["fringe_phase"])))
    tilt = np.where(bangs == 2, 0.35, 0.0)[:, None, None] * _col(a["swept_dir"]) * xr * _col(fb)
    line = base + wave + tilt
    fringe = np.maximum(top, y - line)
    locks = np.maximum(np.maximum(top, _col(fa * 0.80) - np.abs(x - _col(cx))),
                       y - _col(cy + fb * np.where(style == 0, 0.15, 0.45)))
    cv.paint(cv.soft(np.minimum(fringe, locks)), hair_field)
    # a lighter band on the hair (the anime "angel ring")
    ring = np.maximum(np.abs(cv.ellipse_d(cx, cy - 0.10 * s, fa * 1.0, fb * 0.86)) - 0.018 * s[:, None, None],
                      np.maximum(top, y - _col(cy - fb * 0.62)))
    cv.paint(cv.soft(ring), np.clip(hair * 1.25 + 0.10, 0, 1), opacity=0.7)

    # eyes, mouth and blush are painted in the window that holds them all, for speed
    es = a["eye_scale"]
    ex_r = fa * 0.21 * es                   # eye half-width
    ey_r = ex_r * a["eye_tall"]             # eye half-height
    ey = cy + fb * a["eye_y"]
    my = cy + fb * a["mouth_y"]
    mw = fa * 0.19
    reach = fa * (a["eye_gap"] + 0.3)
    full = cv
    cv = full.window((cx - reach).min(), (cx + reach).max(), (ey - ey_r * 2.0).min(),
                     np.maximum(my + mw * 1.2, ey + ey_r * 1.7 + fa * 0.1).max())
    x, y = cv.x, cv.y
    for side in (-1.0, 1.0):
        ex = cx + side * fa * a["eye_gap"]
        present = es > 0
        if not present.any():
            break
        white = cv.soft(cv.ellipse_d(ex, ey, ex_r * 1.25, ey_r * 0.92)) * _col(present)
        cv.paint(white, np.ones((n, 3), np.float32))
        iris_a = cv.soft(cv.ellipse_d(ex, ey + ey_r * 0.05, ex_r, ey_r)) * _col(present)
        grad = np.clip((y - _col(ey - ey_r)) / _col(2 * ey_r + 1e-6), 0, 1)[..., None]
        iris_field = eye[:, None, None, :] * (0.45 + 0.65 * grad)
        cv.paint(iris_a, np.clip(iris_field, 0, 1))
        cv.paint(cv.soft(cv.ellipse_d(ex, ey + ey_r * 0.1, ex_r * 0.45, ey_r * 0.5)) * _col(present), eye * 0.25)
        lid = np.maximum(cv.ellipse_d(ex, ey - ey_r * 0.05, ex_r * 1.35, ey_r * 1.05),
                         y - _col(ey - ey_r * 0.62))
        cv.paint(cv.soft(lid) * _col(present), np.full((n, 3), 0.10, np.float32))
        hl = cv.soft(cv.ellipse_d(ex - side * ex_r * 0.35, ey - ey_r * 0.30, ex_r * 0.36, ex_r * 0.36))
        cv.paint(hl * _col(present), np.ones((n, 3), np.float32))
        hl2 = cv.soft(cv.ellipse_d(ex + side * ex_r * 0.35, ey + ey_r * 0.45, ex_r * 0.18, ex_r * 0.18))
        cv.paint(hl2 * _col(present), np.ones((n, 3), np.float32), opacity=0.8)
        brow = np.maximum(np.abs(cv.ellipse_d(ex, ey - ey_r * 0.9, ex_r * 1.3, ey_r * 0.9)) - 0.012 * s[:, None, None],
                          y - _col(ey - ey_r * 1.45))
        cv.paint(cv.soft(brow) * _col(present), hair_dark)

    # mouth
    mouth_col = np.tile(np.array([[0.55, 0.20, 0.22]], np.float32), (n, 1))
    line_d = cv.ellipse_d(cx, my, mw, np.full(n, 0.02) * s + 0.004)
    open_d = cv.ellipse_d(cx, my, mw * 0.85, mw * 0.75)
    smile_d = np.maximum(np.abs(cv.ellipse_d(cx, my - mw * 0.6, mw * 1.1, mw * 0.9)) - 0.012 * s[:, None, None],
                         _col(my - mw * 0.1) - y)
    m = a["mouth"][:, None, None]
    cv.paint(cv.soft(np.where(m == 0, line_d, np.where(m == 1, open_d, smile_d))), mouth_col)
    tongue = np.maximum(cv.ellipse_d(cx, my + mw * 0.3, mw * 0.55, mw * 0.4), -open_d)
    cv.paint(cv.soft(tongue) * (m == 1), np.tile(np.array([[0.93, 0.50, 0.55]], np.float32), (n, 1)))

    # blush on the cheeks
    blush = a["blush"] == 1
    if blush.any():
        for side in (-1.0, 1.0):
            d = cv.ellipse_d(cx + side * fa * 0.55, ey + ey_r * 1.7, fa * 0.20, fa * 0.09)
            cv.paint(cv.soft(d) * _col(blush), np.tile(np.array([[0.97, 0.45, 0.52]], np.float32), (n, 1)),
                     opacity=0.6)

    return np.clip(np.rint(full.img * 255.0), 0, 255).astype(np.uint8)
