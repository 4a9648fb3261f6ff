"""Makes the ImageFolderTests fixtures: tiny PNG/JPEG images of every kind the decoder reads, the pixels PIL
decodes them to, PIL's resizes of one image, broken files, and COCO / Karpathy / VQAv2 JSON files naming them.

Run from this folder: python3 make_fixtures.py   (needs Pillow and numpy; deterministic, seed 0).
Expected pixels are PIL's `Image.open(path).convert("RGB")` (what LAVIS does to every image) as 8-bit
integers, except the 16-bit PNGs, whose expected values are the raw 16-bit samples (PIL keeps only 8 bits).
"""
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "Fixtures")
IMAGES = os.path.join(OUT, "images")
os.makedirs(IMAGES, exist_ok=True)
rng = np.random.default_rng(0)
expected = {"decode": {}, "resize": []}


def save(name, image, **options):
    path = os.path.join(IMAGES, name)
    image.save(path, **options)
    return path


def record(name):
    pixels = np.asarray(Image.open(os.path.join(IMAGES, name)).convert("RGB"))
    expected["decode"][name] = {"width": pixels.shape[1], "height": pixels.shape[0], "bits": 8,
                                "rgb": pixels.reshape(-1).tolist()}


def png16(name, samples, color_type):
    """A 16-bit PNG written by hand (PIL cannot write 16-bit RGB): samples [H, W, C] uint16."""
    height, width = samples.shape[:2]
    raw = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(os.path.join(IMAGES, name), "wb") as f:
        f.write(data)
    rgb = samples if samples.shape[2] >= 3 else np.repeat(samples[:, :, :1], 3, axis=2)
    expected["decode"][name] = {"width": width, "height": height, "bits": 16,
                                "rgb": rgb[:, :, :3].reshape(-1).astype(int).tolist()}


# PNG: every colour type at 8 bits, palettes at 8 and 2 bits (with transparency), 1-bit gray, 16-bit gray/RGB/RGBA.
rgb = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
save("rgb8.png", Image.fromarray(rgb, "RGB")); record("rgb8.png")
save("rgba8.png", Image.fromarray(rng.integers(0, 256, (3, 4, 4), dtype=np.uint8), "RGBA")); record("rgba8.png")
save("gray8.png", Image.fromarray(rng.integers(0, 256, (4, 3), dtype=np.uint8), "L")); record("gray8.png")
save("graya8.png", Image.fromarray(rng.integers(0, 256, (3, 3, 2), dtype=np.uint8), "LA")); record("graya8.png")
palette = Image.fromarray(rng.integers(0, 4, (5, 6), dtype=np.uint8), "P")
palette.putpalette([255, 0, 0, 0, 128, 0, 10, 20, 250, 200, 200, 30])
save("palette8.png", palette); record("palette8.png")
save("palette2.png", palette, bits=2); record("palette2.png")
save("palette_trns.png", palette, transparency=1); record("palette_trns.png")
save("gray1.png", Image.fromarray(rng.integers(0, 2, (4, 9), dtype=np.uint8) * 255, "L").convert("1")); record("gray1.png")
png16("gray16.png", rng.integers(0, 65536, (3, 4, 1), dtype=np.uint16), 0)
png16("rgb16.png", rng.integers(0, 65536, (2, 3, 3), dtype=np.uint16), 2)
png16("rgba16.png", rng.integers(0, 65536, (2, 2, 4), dtype=np.uint16), 6)

# JPEG: RGB (4:2:0 and 4:4:4) and grayscale, from smooth images so the codec has something to do; CMYK (refused).
yy, xx = np.mgrid[0:12, 0:10]
smooth = np.stack([xx * 25, yy * 20, (xx + yy) * 12], axis=2).clip(0, 255).astype(np.uint8)
save("rgb420.jpg", Image.fromarray(smooth, "RGB"), quality=85); record("rgb420.jpg")
save("rgb444.jpg", Image.fromarray(smooth, "RGB"), quality=95, subsampling=0); record("rgb444.jpg")
save("gray.jpg", Image.fromarray(smooth[:, :, 0], "L"), quality=90); record("gray.jpg")
save("cmyk.jpg", Image.fromarray(smooth, "RGB").convert("CMYK"), quality=90)

# Broken files.
with open(os.path.join(IMAGES, "rgb8.png"), "rb") as f:
    png = f.read()
with open(os.path.join(IMAGES, "truncated.png"), "wb") as f:
    f.write(png[: len(png) - 30])
with open(os.path.join(IMAGES, "rgb444.jpg"), "rb") as f:
    jpg = f.read()
with open(os.path.join(IMAGES, "truncated.jpg"), "wb") as f:
    f.write(jpg[: len(jpg) // 2])
bad_crc = bytearray(png)
bad_crc[45] ^= 0xFF  # inside IDAT's data
with open(os.path.join(IMAGES, "badcrc.png"), "wb") as f:
    f.write(bytes(bad_crc))
with open(os.path.join(IMAGES, "notimage.png"), "w") as f:
    f.write("this is text, not an image\n")

# Resizing: a 23 x 17 noisy gradient, resized by PIL down and up with both filters, and the crop preprocessing
# (torchvision Resize(s) + CenterCrop(s) = PIL resize of the shorter side to s, then the centre).
gy, gx = np.mgrid[0:17, 0:23]
photo = np.stack([gx * 11, gy * 15, 255 - gx * 8], axis=2) + rng.integers(-40, 40, (17, 23, 3))
photo = photo.clip(0, 255).astype(np.uint8)
save("photo.png", Image.fromarray(photo, "RGB")); record("photo.png")
source = Image.open(os.path.join(IMAGES, "photo.png")).convert("RGB")
filters = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}
for name, method in filters.items():
    for size in [(9, 7), (11, 17), (40, 30)]:
        out = np.asarray(source.resize(size, method))
        expected["resize"].append({"filter": name, "width": size[0], "height": size[1], "rgb": out.reshape(-1).tolist()})
    s = 12
    long_side = int(s * 23 / 17)
    resized = source.resize((long_side, s), method)
    left = int(round((long_side - s) / 2.0)); top = int(round((s - s) / 2.0))
    crop = np.asarray(resized.crop((left, top, left + s, top + s)))
    expected["resize"].append({"filter": name, "width": s, "height": s, "crop": True, "rgb": crop.reshape(-1).tolist()})
    stretch = np.asarray(source.resize((s, s), method))
    expected["resize"].append({"filter": name, "width": s, "height": s, "stretch": True, "rgb": stretch.reshape(-1).tolist()})

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f)

# Dataset files. COCO captions over three images; a Karpathy list (one caption per entry, and a list);
# VQAv2 questions + annotations naming images by id (COCO_{subtype}_{id}.jpg).
for image_id, name in [(42, "rgb8.png"), (7, "photo.png")]:
    Image.open(os.path.join(IMAGES, name)).convert("RGB").save(
        os.path.join(IMAGES, "COCO_val2014_%012d.jpg" % image_id), quality=90)
coco = {"images": [{"id": 1, "file_name": "rgb8.png"}, {"id": 2, "file_name": "photo.png"},
                   {"id": 3, "file_name": "rgb444.jpg"}],
        "annotations": [{"image_id": 1, "id": 10, "caption": "a noisy little picture"},
                        {"image_id": 2, "id": 11, "caption": "a gradient with noise"},
                        {"image_id": 1, "id": 12, "caption": "random coloured pixels"},
                        {"image_id": 3, "id": 13, "caption": "a smooth gradient"}]}
karpathy = [{"image": "rgb8.png", "caption": "a noisy little picture", "image_id": "coco_1"},
            {"image": "rgb8.png", "caption": "random coloured pixels", "image_id": "coco_1"},
            {"image": "gray.jpg", "caption": ["a grey gradient", "shades of grey"], "image_id": "coco_4"}]
questions = {"data_subtype": "val2014", "task_type": "Open-Ended", "data_type": "mscoco",
             "questions": [{"image_id": 42, "question": "what colour is it?", "question_id": 420},
                           {"image_id": 7, "question": "is it smooth?", "question_id": 70},
                           {"image_id": 42, "question": "how many pixels?", "question_id": 421}]}
def answers(words):
    return [{"answer": w, "answer_confidence": "yes", "answer_id": i + 1} for i, w in enumerate(words)]
annotations = {"annotations": [
    {"question_id": 420, "image_id": 42, "question_type": "what color", "answer_type": "other",
     "multiple_choice_answer": "red", "answers": answers(["red"] * 6 + ["pink"] * 3 + ["orange"])},
    {"question_id": 70, "image_id": 7, "question_type": "is it", "answer_type": "yes/no",
     "multiple_choice_answer": "no", "answers": answers(["no"] * 10)},
    {"question_id": 421, "image_id": 42, "question_type": "how many", "answer_type": "number",
     "multiple_choice_answer": "20", "answers": answers(["20"] * 8 + ["many", "12"])}]}
missing = {"images": [{"id": 1, "file_name": "rgb8.png"}, {"id": 5, "file_name": "nowhere.png"}],
           "annotations": [{"image_id": 1, "caption": "x"}, {"image_id": 5, "caption": "y"}]}
wrong_type = {"images": [{"id": 1, "file_name": "rgb8.png"}],
              "annotations": [{"image_id": 1, "caption": "fine"}, {"image_id": 1, "caption": 5}]}
broken_image = {"images": [{"id": 9, "file_name": "truncated.png"}], "annotations": [{"image_id": 9, "caption": "z"}]}
files = {"captions.json": coco, "karpathy.json": karpathy, "vqa_questions.json": questions,
         "vqa_annotations.json": annotations, "missing_image.json": missing, "wrong_type.json": wrong_type,
         "broken_image.json": broken_image}
for name, content in files.items():
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(content, f, indent=1)
with open(os.path.join(OUT, "malformed.json"), "w") as f:
    f.write('{"images": [{"id": 1, "file_name": "rgb8.png"}], "annotations": [{"image_id": 1, "caption": "x"}\n')
