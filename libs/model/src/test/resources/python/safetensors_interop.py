"""A minimal safetensors reader and writer in pure Python + numpy, as an independent check of
Tessera's format handling (the `safetensors` package itself is not required).

  safetensors_interop.py read FILE OUT_DIR   -> OUT_DIR/<name>.f32 (raw little-endian fp32) and
                                               OUT_DIR/manifest.json {tensors, metadata, header_length}
  safetensors_interop.py write FILE OUT_DIR  -> FILE, and OUT_DIR/<name>.f32 with the exact values
"""
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}


def to_f32(raw, dtype):
    if dtype == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32)


def read(path, out_dir):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert (8 + n) % 8 == 0, "data section not 8-byte aligned: header length %d" % n
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    metadata = header.pop("__metadata__", {})
    manifest = {"tensors": {}, "metadata": metadata, "header_length": n, "order": list(header)}
    end_prev = 0
    for name, info in header.items():
        begin, end = info["data_offsets"]
        assert begin == end_prev, "%s: offsets not consecutive in header order" % name
        end_prev = end
        dt = DTYPES[info["dtype"]]
        raw = np.frombuffer(data[begin:end], dtype=dt).reshape(info["shape"])
        to_f32(raw, info["dtype"]).astype("<f4").tofile(os.path.join(out_dir, name + ".f32"))
        manifest["tensors"][name] = {"dtype": info["dtype"], "shape": info["shape"]}
    assert end_prev == len(data), "data section has %d trailing bytes" % (len(data) - end_prev)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def bf16(values):
    bits = values.astype("<f4").view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def write(path, out_dir):
    rng = np.random.default_rng(20240611)
    tensors = [
        ("model.embed_tokens.weight", "BF16", rng.standard_normal((6, 4)).astype(np.float32)),
        ("model.norm.weight", "F32", rng.standard_normal((4,)).astype(np.float32) + 1.0),
        ("vision.patch", "F16", rng.standard_normal((2, 3, 2, 2)).astype(np.float32)),
        ("scalar", "F32", np.array(rng.standard_normal(), dtype=np.float32)),
    ]
    header = {"__metadata__": {"format": "pt", "writer": "numpy"}}
    chunks = []
    # Data in reverse order of the header entries: readers must follow data_offsets.
    offset = 0
    for name, dtype, values in reversed(tensors):
        if dtype == "BF16":
            raw = bf16(values)
        elif dtype == "F16":
            raw = values.astype("<f2")
        else:
            raw = values.astype("<f4")
        b = raw.tobytes()
        chunks.append(b)
        header[name] = {"dtype": dtype, "shape": list(values.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        to_f32(raw, dtype).astype("<f4").tofile(os.path.join(out_dir, name + ".f32"))
    ordered = {"__metadata__": header.pop("__metadata__")}
    for name, _, _ in tensors:
        ordered[name] = header[name]
    text = json.dumps(ordered, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in chunks:
            f.write(b)


if __name__ == "__main__":
    {"read": read, "write": write}[sys.argv[1]](sys.argv[2], sys.argv[3])
