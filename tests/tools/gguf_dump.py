#!/usr/bin/env python3
"""Independent GGUF header dump for tests: prints {"version", "metadata", "tensors"}
as JSON, parsed here with struct from the format description (not with our C code),
so tests can compare `llava-eval info --json` against a second reading of the file."""
import json
import struct
import sys

FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 10: "Q2_K", 11: "Q3_K",
         12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 20: "IQ4_NL", 30: "BF16"}


def main(path):
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode("utf-8", "replace")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(FMT[t])

    assert data[:4] == b"GGUF"
    pos = 4
    version, nt, nkv = take("<I"), take("<Q"), take("<Q")
    meta = {}
    for _ in range(nkv):
        k = string()
        meta[k] = value(take("<I"))
    tensors = []
    for _ in range(nt):
        name = string()
        nd = take("<I")
        shape = [take("<Q") for _ in range(nd)]
        t = take("<I")
        take("<Q")
        tensors.append({"name": name, "type": TYPES.get(t, str(t)), "shape": shape})
    json.dump({"version": version, "metadata": meta, "tensors": tensors}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
