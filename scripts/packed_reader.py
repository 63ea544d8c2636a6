#!/usr/bin/env python3
"""Reads Tessera packed shards with Python's standard library alone (no numpy, no Tessera).

The format is described in docs/formats.md ("Packed shards"). A packed set is a directory:

    manifest.json        kind "tessera-packed", layout, shards with sha256 and index files
    00000.tar            one WebDataset sample per sequence (tokens/positions/loss_mask .npy,
                         json, images)
    00000.idx.npy        int64 byte offsets of each sequence in the tar, then the end offset
    stats.json           packing statistics

Usage:
    python3 packed_reader.py DIR            one JSON line per sequence, as `inspect DIR --json`
    python3 packed_reader.py DIR --check    also verify checksums and every sequence's invariants
    python3 packed_reader.py DIR --sequence N   print sequence N in full (tokens, positions, mask)

As a library:
    packed = PackedSet("out/packed")
    seq = packed.read(17)   # random access through the index: dict with tokens, samples, images
"""

import array
import ast
import hashlib
import io
import json
import os
import sys
import tarfile

NPY_MAGIC = b"\x93NUMPY"


def parse_npy(data):
    """Returns (dtype descr, shape, payload bytes) of a .npy file's bytes."""
    if data[:6] != NPY_MAGIC:
        raise ValueError("not a .npy file")
    major = data[6]
    if major == 1:
        header_len = int.from_bytes(data[8:10], "little")
        start = 10
    else:
        header_len = int.from_bytes(data[8:12], "little")
        start = 12
    header = ast.literal_eval(data[start:start + header_len].decode("latin1"))
    if header["fortran_order"]:
        raise ValueError("fortran-order arrays are not used by Tessera")
    return header["descr"], tuple(header["shape"]), data[start + header_len:]


def npy_array(data, expected_descr):
    """A 1-D .npy array as a Python array.array (little-endian host assumed, as x86/ARM are)."""
    descr, shape, payload = parse_npy(data)
    if descr != expected_descr or len(shape) != 1:
        raise ValueError("expected 1-D %s, got %s %s" % (expected_descr, descr, shape))
    typecode = {"<i4": "i", "<i8": "q", "|u1": "B"}[descr]
    values = array.array(typecode)
    values.frombytes(payload)
    if len(values) != shape[0]:
        raise ValueError("array holds %d items, header says %d" % (len(values), shape[0]))
    if sys.byteorder != "little" and values.itemsize > 1:
        values.byteswap()
    return values


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class PackedSet:
    def __init__(self, directory):
        self.dir = directory
        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
            self.manifest = json.load(f)
        if self.manifest.get("kind") != "tessera-packed":
            raise ValueError("%s is not a packed set (kind %r)" % (directory, self.manifest.get("kind")))
        if self.manifest.get("formatVersion") != 1:
            raise ValueError("unknown format version %r" % self.manifest.get("formatVersion"))
        self.layout = self.manifest["layout"]
        self.shards = self.manifest["shards"]
        self.offsets = []
        self.first = [0]
        for shard in self.shards:
            with open(os.path.join(directory, shard["index"]["name"]), "rb") as f:
                offsets = npy_array(f.read(), "<i8")
            if len(offsets) != shard["samples"] + 1:
                raise ValueError("%s: index has %d entries" % (shard["name"], len(offsets) - 1))
            self.offsets.append(offsets)
            self.first.append(self.first[-1] + shard["samples"])

    def __len__(self):
        return self.first[-1]

    def verify_checksums(self):
        problems = []
        for shard in self.shards:
            for entry in (shard, shard["index"]):
                path = os.path.join(self.dir, entry["name"])
                if not os.path.isfile(path):
                    problems.append("%s: missing" % entry["name"])
                elif os.path.getsize(path) != entry["bytes"] or sha256_of(path) != entry["sha256"]:
                    problems.append("%s: size or sha256 differs from the manifest" % entry["name"])
        return problems

    def read(self, sequence):
        """Sequence `sequence` (0-based over the whole set), read through its shard's index."""
        shard = 0
        while self.first[shard + 1] <= sequence:
            shard += 1
        position = sequence - self.first[shard]
        start, end = self.offsets[shard][position], self.offsets[shard][position + 1]
        with open(os.path.join(self.dir, self.shards[shard]["name"]), "rb") as f:
            f.seek(start)
            span = f.read(end - start)
        members = {}
        with tarfile.open(fileobj=io.BytesIO(span), mode="r:") as tar:
            for info in tar:
                key, _, extension = info.name.partition(".")
                if key != "%09d" % sequence:
                    raise ValueError("index points at %s, expected sequence %d" % (info.name, sequence))
                members[extension] = tar.extractfile(info).read()
        meta = json.loads(members["json"])
        return {
            "shard": self.shards[shard]["name"],
            "sequence": meta["sequence"],
            "length": meta["length"],
            "samples": meta["samples"],
            "tokens": npy_array(members["tokens.npy"], "<i4"),
            "positions": npy_array(members["positions.npy"], "<i4"),
            "loss_mask": npy_array(members["loss_mask.npy"], "|u1"),
            "images": [members[s["image"]] for s in meta["samples"]],
        }


def check_sequence(layout, seq):
    """Invariants of one sequence; returns a list of problems."""
    problems = []
    n = layout["sequenceLength"]
    name = "sequence %d" % seq["sequence"]
    tokens, positions, mask = seq["tokens"], seq["positions"], seq["loss_mask"]
    if len(tokens) != n or len(positions) != n or len(mask) != n:
        return [name + ": arrays are not %d long" % n]
    at = 0
    for sample in seq["samples"]:
        if sample["offset"] != at:
            return [name + ": sample %s starts at %d, expected %d" % (sample["key"], sample["offset"], at)]
        if sample["length"] != sample["textTokens"] + layout["imageTokens"]:
            problems.append(name + ": sample %s length disagrees with its parts" % sample["key"])
        visual = 0
        for i in range(at, at + sample["length"]):
            is_image = tokens[i] == layout["imageTokenId"]
            visual += is_image
            if positions[i] != i - at or mask[i] != (0 if is_image else 1):
                return [name + ": position or loss mask wrong at %d" % i]
        if visual != layout["imageTokens"]:
            problems.append(name + ": sample %s has %d visual positions" % (sample["key"], visual))
        if not seq["images"][seq["samples"].index(sample)]:
            problems.append(name + ": sample %s has an empty image" % sample["key"])
        at += sample["length"]
    if at != seq["length"] or at > n:
        problems.append(name + ": samples cover %d tokens, length says %d" % (at, seq["length"]))
    for i in range(at, n):
        if tokens[i] != layout["padTokenId"] or mask[i] != 0 or positions[i] != 0:
            problems.append(name + ": padding wrong at %d" % i)
            break
    return problems


def summary_line(seq):
    """The JSON line `tessera-curator inspect DIR --json` prints for a sequence."""
    return json.dumps(
        {
            "shard": seq["shard"],
            "sequence": seq["sequence"],
            "tokens": seq["length"],
            "samples": [{"uid": s["uid"], "key": s["key"], "length": s["length"]} for s in seq["samples"]],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    packed = PackedSet(argv[1])
    if "--sequence" in argv:
        seq = packed.read(int(argv[argv.index("--sequence") + 1]))
        seq = dict(seq, tokens=list(seq["tokens"]), positions=list(seq["positions"]),
                   loss_mask=list(seq["loss_mask"]), images=[len(i) for i in seq["images"]])
        print(json.dumps(seq))
        return 0
    check = "--check" in argv
    problems = packed.verify_checksums() if check else []
    for sequence in range(len(packed)):
        seq = packed.read(sequence)
        if check:
            problems.extend(check_sequence(packed.layout, seq))
        print(summary_line(seq))
    for problem in problems:
        print("problem: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
