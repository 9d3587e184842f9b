"""Files with a unique string planted in every metadata slot, built by hand for the strip tests.

Pillow makes the base images; segments, chunks and boxes are then spliced in byte by byte, so
each slot the issue lists holds a marker that `strip_bytes` must remove. Every marker starts
with PREFIX: after stripping, PREFIX must not occur anywhere in the file.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from PIL import Image

PREFIX = b"@@planted:"
ICC = b"ICC-BYTES-KEPT" * 8  # stands in for a profile: what must survive, byte for byte


def mark(slot: str) -> bytes:
    """The marker for one slot: unique, so a failure names the slot that leaked."""
    return PREFIX + slot.encode() + b"@@"


def leaks(data: bytes) -> list[str]:
    """The slots whose marker survived (several leaks name themselves)."""
    found, start = [], data.find(PREFIX)
    while start >= 0:
        end = data.find(b"@@", start + len(PREFIX))
        found.append(data[start + len(PREFIX) : end].decode("latin-1"))
        start = data.find(PREFIX, start + 1)
    return found


def base_image(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """Noise over a gradient: real entropy-coded data, with enough detail to compare pixels."""
    # Seeded, so every run builds the same files and a fuzz failure replays exactly.
    noise = Image.frombytes(
        "L", size, random.Random(size[0] * size[1]).randbytes(size[0] * size[1])
    )
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (noise, gradient, gradient.transpose(Image.Transpose.ROTATE_180)))
    return image.convert(mode)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


# --- Exif (TIFF) ---------------------------------------------------------------------------

_ASCII, _SHORT, _LONG, _RATIONAL, _UNDEFINED = 2, 3, 4, 5, 7
_TYPE_SIZE = {_ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _UNDEFINED: 1}
Entry = tuple[int, int, bytes]  # tag, type, packed big-endian value


def _ascii(text: bytes) -> tuple[int, bytes]:
    return _ASCII, text + b"\x00"


def _ifd(entries: Sequence[Entry], offset: int, next_ifd: int) -> bytes:
    head = struct.pack(">H", len(entries))
    area, area_offset = b"", offset + 2 + 12 * len(entries) + 4
    for tag, kind, value in sorted(entries):
        count = len(value) // _TYPE_SIZE[kind]
        if len(value) <= 4:
            head += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")
        else:
            head += struct.pack(">HHII", tag, kind, count, area_offset + len(area))
            area += value + b"\x00" * (len(value) & 1)
    return head + struct.pack(">I", next_ifd) + area


def exif_tiff(orientation: int = 1, slot: str = "exif", thumbnail: bool = True) -> bytes:
    """A big-endian TIFF with camera, serial, GPS, MakerNote and a JPEG thumbnail, all planted."""
    thumb = jpeg_with_comment(mark(f"{slot}-thumbnail")) if thumbnail else b""
    gps: list[Entry] = [
        (0x0001, _ASCII, b"N\x00"),
        (0x0002, _RATIONAL, struct.pack(">6I", 48, 1, 51, 1, 2411, 100)),
        (0x001B, _UNDEFINED, b"ASCII\x00\x00\x00" + mark(f"{slot}-gps-method")),
        (0x001C, _UNDEFINED, b"ASCII\x00\x00\x00" + mark(f"{slot}-gps-area")),
    ]
    sub: list[Entry] = [
        (0x9003, *_ascii(b"2026:11:22 10:41:07")),
        (0x927C, _UNDEFINED, mark(f"{slot}-makernote") * 4),
        (0x9286, _UNDEFINED, b"ASCII\x00\x00\x00" + mark(f"{slot}-usercomment")),
        (0xA431, *_ascii(mark(f"{slot}-serial"))),
    ]

    def ifd0(exif_at: int, gps_at: int) -> list[Entry]:
        return [
            (0x010E, *_ascii(mark(f"{slot}-description"))),
            (0x010F, *_ascii(mark(f"{slot}-make"))),
            (0x0110, *_ascii(mark(f"{slot}-model"))),
            (0x0112, _SHORT, struct.pack(">H", orientation)),
            (0x8769, _LONG, struct.pack(">I", exif_at)),
            (0x8825, _LONG, struct.pack(">I", gps_at)),
        ]

    def ifd1(thumb_at: int) -> list[Entry]:
        return [
            (0x0201, _LONG, struct.pack(">I", thumb_at)),
            (0x0202, _LONG, struct.pack(">I", len(thumb))),
        ]

    # Pointers never change a size, so sizes measured with zeros give every offset.
    exif_at = 8 + len(_ifd(ifd0(0, 0), 0, 0))
    gps_at = exif_at + len(_ifd(sub, 0, 0))
    ifd1_at = gps_at + len(_ifd(gps, 0, 0))
    thumb_at = ifd1_at + len(_ifd(ifd1(0), 0, 0))
    out = b"MM\x00\x2a" + struct.pack(">I", 8)
    out += _ifd(ifd0(exif_at, gps_at), 8, ifd1_at if thumbnail else 0)
    out += _ifd(sub, exif_at, 0) + _ifd(gps, gps_at, 0)
    if thumbnail:
        out += _ifd(ifd1(thumb_at), ifd1_at, 0) + thumb
    return out


def xmp_packet(slot: str) -> bytes:
    return (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="'
        + mark(slot)
        + b'"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


# --- JPEG ----------------------------------------------------------------------------------


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def photoshop_block(resource: int, data: bytes) -> bytes:
    """One Photoshop image resource ("8BIM", id, empty Pascal name, size, data)."""
    return b"8BIM" + struct.pack(">HHI", resource, 0, len(data)) + data + b"\x00" * (len(data) & 1)


def jpeg_with_comment(comment: bytes) -> bytes:
    """A tiny JPEG (used as an Exif thumbnail or an MPO frame) carrying a COM marker."""
    tiny = encode(base_image((8, 8)), "JPEG", quality=50)
    return tiny[:2] + segment(0xFE, comment) + tiny[2:]


def _insert_before(data: bytes, marker: bytes, insert: bytes, nth: int, start: int) -> bytes:
    """Insert before the nth occurrence of a marker from `start`. Entropy-coded data stuffs
    every 0xFF with 0x00, so a marker's two bytes only ever occur where the marker is."""
    pos = start - 1
    for _ in range(nth + 1):
        pos = data.index(marker, pos + 1)
    return data[:pos] + insert + data[pos:]


def planted_jpeg(progressive: bool = False, orientation: int = 1) -> tuple[bytes, bytes]:
    """(planted file, the plain Pillow file it was built from)."""
    plain = encode(base_image(), "JPEG", quality=90, progressive=progressive, icc_profile=ICC)
    exif = segment(0xE1, b"Exif\x00\x00" + exif_tiff(orientation, "jpeg-exif"))
    mp_entry = struct.pack(">IIIHH", 0x030000, 0, 0, 0, 0)  # one image: this one
    mp_index: list[Entry] = [
        (0xB000, _UNDEFINED, b"0100"),
        (0xB001, _LONG, struct.pack(">I", 1)),
        (0xB002, _UNDEFINED, mp_entry),
        (0xB003, _UNDEFINED, mark("jpeg-mpf")),
    ]
    mpf = b"MPF\x00MM\x00\x2a" + struct.pack(">I", 8) + _ifd(mp_index, 8, 0)
    extended_xmp = b"http://ns.adobe.com/xmp/extension/\x00" + b"0" * 32 + b"\x00" * 8
    iptc = b"\x1c\x02\x5a" + struct.pack(">H", len(mark("jpeg-iptc-city"))) + mark("jpeg-iptc-city")
    jfif_thumb = mark("jfif-thumbnail").ljust(16 * 3, b"\x00")  # a 16x1 RGB thumbnail
    head = b"".join(
        [
            exif,  # APP1 before APP0
            segment(0xE0, b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x10\x01" + jfif_thumb),
            segment(0xE0, b"JFXX\x00\x10" + mark("jfxx-thumbnail")),
            segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet("jpeg-xmp")),
            segment(0xE1, extended_xmp + xmp_packet("jpeg-extended-xmp")),
            segment(0xE2, mpf),
            segment(0xE2, b"FPXR\x00\x00" + mark("jpeg-fpxr")),
            segment(0xE2, mark("jpeg-app2-other")),
            *(segment(m, mark(f"jpeg-app{m - 0xE0}")) for m in range(0xE3, 0xF0) if m != 0xEE),
            segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01" + mark("jpeg-adobe-extra")),
            segment(0xED, b"Photoshop 3.0\x00" + photoshop_block(0x0404, iptc)),
            segment(0xFE, mark("jpeg-com")),
        ]
    )
    # Pillow writes SOI, then APP0 JFIF; ours replaces it (and holds a thumbnail).
    jfif_end = 4 + struct.unpack_from(">H", plain, 4)[0]
    data = plain[:2] + head + plain[jfif_end:]
    sof = b"\xff\xc2" if progressive else b"\xff\xc0"
    after_sof = segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet("jpeg-after-sof"))
    after_sof += segment(0xFE, mark("jpeg-com-after-sof"))
    # Search past our own segments: the Exif thumbnail is a JPEG with markers of its own.
    sof_at = data.index(sof, 2 + len(head))
    sof_end = sof_at + 2 + struct.unpack_from(">H", data, sof_at + 2)[0]
    data = data[:sof_end] + after_sof + data[sof_end:]
    if progressive:
        between = segment(0xE1, b"Exif\x00\x00" + exif_tiff(1, "jpeg-between-scans", False))
        between += segment(0xFE, mark("jpeg-com-between-scans"))
        data = _insert_before(data, b"\xff\xda", between, nth=2, start=sof_end)
    second_frame = jpeg_with_comment(mark("mpo-second-frame"))
    data += second_frame + mark("jpeg-trailer") + b"\xff\xd9"
    return data, plain


# --- PNG -----------------------------------------------------------------------------------


def chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk, for tests to look at and splice."""
    out, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def join_png(chunks: Iterable[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunk(kind, payload) for kind, payload in chunks)


def planted_png(orientation: int = 1, animated: bool = False) -> tuple[bytes, bytes]:
    image = base_image()
    if animated:
        frames = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
        plain = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)
    else:
        plain = encode(image, "PNG")
    chunks = png_chunks(plain)
    iccp = b"ICC profile name " + mark("png-iccp-name")[:60] + b"\x00\x00" + zlib.compress(ICC)
    before = [
        (b"iCCP", iccp),
        (b"tEXt", b"Comment\x00" + mark("png-text")),
        (b"zTXt", mark("png-ztxt-keyword")[:79] + b"\x00\x00" + zlib.compress(b"zipped")),
        (b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet("png-xmp")),
        (b"iTXt", b"Author\x00\x00\x00en\x00" + mark("png-itxt-key") + b"\x00" + mark("png-itxt")),
        (b"eXIf", exif_tiff(orientation, "png-exif")),
        (b"tIME", struct.pack(">HBBBBB", 2026, 11, 22, 10, 41, 7)),
        (b"pHYs", struct.pack(">IIB", 2835, 2835, 1)),
        (b"sPLT", mark("png-splt") + b"\x00\x08" + b"\x00" * 6),
        (b"prVt", mark("png-private")),
        (b"gAMA", struct.pack(">I", 45455) + mark("png-oversized-gama")),
    ]
    after = [
        (b"tEXt", b"Late\x00" + mark("png-text-after-idat")),
        (b"eXIf", exif_tiff(orientation, "png-exif-after-idat", False)),
    ]
    first_data = next(i for i, (kind, _) in enumerate(chunks) if kind in (b"IDAT", b"acTL"))
    out = [*chunks[:first_data], *before, *chunks[first_data:-1]]
    if animated:  # between two frames, too
        second_frame = [i for i, (kind, _) in enumerate(out) if kind == b"fcTL"][1]
        out.insert(second_frame, (b"tEXt", b"Frame\x00" + mark("png-text-between-frames")))
    data = join_png([*out, *after, chunks[-1]]) + mark("png-after-iend")
    return data, plain


# --- WebP ----------------------------------------------------------------------------------


def riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def webp_chunks(data: bytes, start: int = 12, end: int | None = None) -> list[tuple[bytes, bytes]]:
    out, pos, end = [], start, len(data) if end is None else end
    while pos + 8 <= end:
        (length,) = struct.unpack_from("<I", data, pos + 4)
        out.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return out


def join_webp(chunks: Iterable[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(riff_chunk(kind, payload) for kind, payload in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def planted_webp(orientation: int = 1, animated: bool = False) -> tuple[bytes, bytes]:
    image = base_image()
    if animated:
        frames = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
        plain = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    else:
        plain = encode(image, "WEBP", quality=90, icc_profile=ICC)
    chunks = webp_chunks(plain)
    vp8x = bytearray(chunks[0][1])
    vp8x[0] |= 0x08 | 0x04  # the EXIF and XMP flags, as a camera would set them
    vp8x[1:4] = b"\xff\xff\xff"  # reserved bytes the writer put garbage in
    out = [(b"VP8X", bytes(vp8x)), *chunks[1:]]
    image_at = next(i for i, (kind, _) in enumerate(out) if kind in (b"VP8 ", b"VP8L", b"ANMF"))
    out.insert(image_at, (b"ZZZZ", mark("webp-unknown-before-image") + b"!"))  # odd size
    if animated:
        frame_at = image_at + 1
        inner = out[frame_at][1]
        inner += riff_chunk(b"XYZW", mark("webp-unknown-in-frame"))
        out[frame_at] = (b"ANMF", inner)
    out += [
        (b"EXIF", b"Exif\x00\x00" + exif_tiff(orientation, "webp-exif")),
        (b"XMP ", xmp_packet("webp-xmp")),
        (b"ABCD", mark("webp-unknown-after")),
    ]
    return join_webp(out) + mark("webp-after-riff"), plain


# --- HEIF ----------------------------------------------------------------------------------


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, version: int, payload: bytes, flags: int = 0) -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags) + payload)


def heif_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, bytes]]:
    out, pos, end = [], start, len(data) if end is None else end
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        size = size or end - pos
        out.append((kind, data[pos + 8 : pos + size]))
        pos += size
    return out


@dataclass
class HeifItem:
    item_id: int
    item_type: bytes
    data: bytes = b""
    name: bytes = b""
    content_type: bytes = b""
    in_idat: bool = False
    extents: int = 1  # the data split in this many pieces
    method: int | None = None  # a construction method to claim instead of the real one
    data_reference: int = 0
    claim_at: int | None = None  # an offset in mdat's payload to claim instead of the real one


@dataclass
class HeifLayout:
    items: list[HeifItem]
    refs: list[tuple[bytes, int, tuple[int, ...]]] = field(default_factory=list)
    hdlr_name: bytes = b""
    extra_properties: bytes = b""
    extra_meta: bytes = b""
    extra_top: bytes = b""
    mdat_gap: bytes = b""  # bytes in mdat that no item uses


@functools.cache
def _hevc_image() -> tuple[bytes, bytes, bytes]:
    """ipco and ipma of a small HEIC Pillow-HEIF wrote, and its one coded image."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    plain = encode(base_image(), "HEIF", quality=90)
    top = dict(heif_boxes(plain))
    meta = dict(heif_boxes(top[b"meta"], 4))
    iprp = dict(heif_boxes(meta[b"iprp"]))
    return iprp[b"ipco"], iprp[b"ipma"], top[b"mdat"]


def plain_heif() -> bytes:
    """The base image as a HEIF with no metadata item at all."""
    _, _, coded = _hevc_image()
    return build_heif(HeifLayout([HeifItem(1, b"hvc1", coded)]))


def build_heif(layout: HeifLayout) -> bytes:
    ipco, ipma, _ = _hevc_image()
    ipco += layout.extra_properties
    idat = b"".join(item.data for item in layout.items if item.in_idat)

    def meta_box(mdat_at: int) -> bytes:
        entries, pos, idat_pos = b"", mdat_at + 8 + len(layout.mdat_gap), 0
        for item in layout.items:
            data_at = idat_pos if item.in_idat else pos
            if item.claim_at is not None:
                data_at = mdat_at + 8 + item.claim_at
            piece = -(-len(item.data) // item.extents) if item.data else 0
            extents = [
                (data_at + i * piece, min(piece, len(item.data) - i * piece))
                for i in range(item.extents)
            ]
            method = item.method if item.method is not None else (1 if item.in_idat else 0)
            entries += struct.pack(">HHH", item.item_id, method, item.data_reference)
            entries += struct.pack(">H", len(extents))
            entries += b"".join(struct.pack(">II", off, length) for off, length in extents)
            if item.in_idat:
                idat_pos += len(item.data)
            else:
                pos += len(item.data)
        iloc = full_box(b"iloc", 1, b"\x44\x00" + struct.pack(">H", len(layout.items)) + entries)
        infes = b""
        for item in layout.items:
            fields = struct.pack(">HH", item.item_id, 0) + item.item_type + item.name + b"\x00"
            if item.item_type == b"mime":
                fields += item.content_type + b"\x00"
            infes += full_box(b"infe", 2, fields)
        iinf = full_box(b"iinf", 0, struct.pack(">H", len(layout.items)) + infes)
        refs = b"".join(
            box(
                kind,
                struct.pack(">HH", src, len(dst)) + b"".join(struct.pack(">H", d) for d in dst),
            )
            for kind, src, dst in layout.refs
        )
        hdlr = full_box(b"hdlr", 0, b"\x00" * 4 + b"pict" + b"\x00" * 12 + layout.hdlr_name + b"\0")
        children = [
            hdlr,
            full_box(b"pitm", 0, struct.pack(">H", layout.items[0].item_id)),
            iinf,
            iloc,
            full_box(b"iref", 0, refs) if refs else b"",
            box(b"iprp", box(b"ipco", ipco) + box(b"ipma", ipma)),
            box(b"idat", idat) if idat else b"",
            layout.extra_meta,
        ]
        return full_box(b"meta", 0, b"".join(children))

    ftyp = box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")
    size = len(meta_box(0))
    meta = meta_box(len(ftyp) + size)
    mdat = box(b"mdat", layout.mdat_gap + b"".join(i.data for i in layout.items if not i.in_idat))
    return ftyp + meta + mdat + layout.extra_top


def planted_heif(exif_in_idat: bool = False, split: int = 1) -> tuple[bytes, bytes]:
    """(a HEIF with every metadata slot planted, the same image with none)."""
    _, _, coded = _hevc_image()
    exif = b"\x00\x00\x00\x06Exif\x00\x00" + exif_tiff(1, "heif-exif")
    layout = HeifLayout(
        items=[
            HeifItem(1, b"hvc1", coded, name=mark("heif-image-name")),
            HeifItem(2, b"Exif", exif, name=b"Exif", in_idat=exif_in_idat, extents=split),
            HeifItem(3, b"mime", xmp_packet("heif-xmp"), content_type=b"application/rdf+xml"),
            HeifItem(4, b"mime", mark("heif-other-mime"), content_type=b"text/plain"),
            HeifItem(5, b"uri ", mark("heif-uri-item")),
            HeifItem(6, b"zzzz", mark("heif-unknown-item")),
        ],
        refs=[(b"cdsc", 2, (1,)), (b"cdsc", 3, (1,)), (b"cdsc", 6, (1,))],
        hdlr_name=mark("heif-hdlr-name"),
        extra_properties=full_box(b"udes", 0, b"en\x00" + mark("heif-udes") + b"\x00\x00\x00"),
        extra_meta=box(b"xml ", xmp_packet("heif-xml-box")) + box(b"free", mark("heif-meta-free")),
        extra_top=box(b"uuid", b"\xbe\x7a" * 8 + mark("heif-uuid"))
        + box(b"free", mark("heif-free"))
        + box(b"skip", mark("heif-skip")),
        mdat_gap=mark("heif-mdat-leftover"),
    )
    return build_heif(layout), plain_heif()
