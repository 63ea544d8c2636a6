"""Reads synthetic WebDataset shards the way Python training code does, and reports what it saw.

Usage: check_shards.py DIR

Opens every DIR/*.tar with tarfile, groups members by key (the name up to the first dot), decodes
every image with Pillow, and checks that the size matches the sample's json width/height and that
an image fails to load exactly when its json records a corrupt_image defect. Prints one JSON object.
"""

import glob
import io
import json
import os
import sys
import tarfile

from PIL import Image


def main(directory):
    summary = {
        "shards": 0,
        "samples": 0,
        "images_loaded": 0,
        "load_failures": 0,
        "corrupt_samples": 0,
        "unexpected_failures": [],
        "corrupt_but_loaded": [],
        "size_mismatches": [],
        "incomplete_samples": [],
        "caption_mismatches": [],
    }
    for path in sorted(glob.glob(os.path.join(directory, "*.tar"))):
        summary["shards"] += 1
        samples = {}
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                key, _, extension = member.name.partition(".")
                samples.setdefault(key, {})[extension] = tar.extractfile(member).read()
        for key, members in samples.items():
            summary["samples"] += 1
            image_ext = next((e for e in ("jpg", "png") if e in members), None)
            if image_ext is None or "txt" not in members or "json" not in members:
                summary["incomplete_samples"].append(key)
                continue
            meta = json.loads(members["json"].decode("utf-8"))
            if meta["caption"] != members["txt"].decode("utf-8"):
                summary["caption_mismatches"].append(key)
            defect = meta["synthetic"]["defect"]
            corrupt = defect == "corrupt_image"
            summary["corrupt_samples"] += corrupt
            try:
                with Image.open(io.BytesIO(members[image_ext])) as image:
                    image.load()
                    size = image.size
            except Exception:  # any failure to decode counts; which one depends on Pillow's version
                summary["load_failures"] += 1
                if not corrupt:
                    summary["unexpected_failures"].append(key)
                continue
            summary["images_loaded"] += 1
            if corrupt:
                summary["corrupt_but_loaded"].append(key)
            if size != (meta["width"], meta["height"]):
                summary["size_mismatches"].append(key)
    json.dump(summary, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1])
