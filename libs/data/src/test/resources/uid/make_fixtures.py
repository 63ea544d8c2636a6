"""Regenerates the .npy fixtures in this folder with numpy, the way DataComp writes uid lists.

Run from this folder: /usr/bin/python3 make_fixtures.py
"""
import random

import numpy as np
import numpy.lib.format as fmt

rng = random.Random(20240601)
uids = sorted({"%032x" % rng.getrandbits(128) for _ in range(7)} | {"f" * 32, "0" * 32, "8" + "0" * 31})
with open("uids-10.txt", "w") as out:
    out.write("\n".join(uids) + "\n")

# DataComp: np.array([(int(uid[:16], 16), int(uid[16:32], 16)) for uid in uids], np.dtype("u8,u8"))
array = np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in uids], np.dtype("u8,u8"))
np.save("numpy-save-10.npy", array)
for version in [(2, 0), (3, 0)]:
    with open("numpy-v%d-10.npy" % version[0], "wb") as out:
        fmt.write_array(out, array, version=version)
